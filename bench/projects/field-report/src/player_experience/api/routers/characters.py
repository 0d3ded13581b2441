router = object()


def routes():
    return ["/characters"]
