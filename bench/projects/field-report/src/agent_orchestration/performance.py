"""Response-time monitoring; a module, although the tests treat it as a package."""


class ResponseTimeMonitor:
    def __init__(self):
        self.samples = []


_monitor = None


def get_response_time_monitor():
    global _monitor
    if _monitor is None:
        _monitor = ResponseTimeMonitor()
    return _monitor
