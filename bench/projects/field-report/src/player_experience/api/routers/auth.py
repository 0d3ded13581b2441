router = object()


def routes():
    return ["/auth"]
