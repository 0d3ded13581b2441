import time


def now_ms():
    return time.monotonic() * 1000.0
