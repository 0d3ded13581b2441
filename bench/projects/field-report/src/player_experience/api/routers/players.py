router = object()


def routes():
    return ["/players"]
