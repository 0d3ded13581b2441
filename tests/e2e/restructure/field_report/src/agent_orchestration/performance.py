"""Response time monitoring."""
from .timing import now_ms

RESPONSE_BUDGET_MS = 200
_monitor = None


class ResponseTimeMonitor:
    def __init__(self, budget_ms=RESPONSE_BUDGET_MS):
        self.budget_ms = budget_ms
        self.samples = []

    def record(self, started_ms):
        elapsed = now_ms() - started_ms
        self.samples.append(elapsed)
        return elapsed <= self.budget_ms


def get_response_time_monitor():
    global _monitor
    if _monitor is None:
        _monitor = ResponseTimeMonitor()
    return _monitor
