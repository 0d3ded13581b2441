router = object()


def routes():
    return ["/chat"]
