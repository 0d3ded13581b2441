router = object()


def routes():
    return ["/worlds"]
