from .performance import get_response_time_monitor  # noqa: F401
