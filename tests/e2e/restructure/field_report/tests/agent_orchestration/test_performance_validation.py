from src.agent_orchestration.performance.response_time_monitor import (
    get_response_time_monitor,
)


def test_monitor_is_shared_and_records():
    monitor = get_response_time_monitor()
    assert monitor is get_response_time_monitor()
    assert monitor.record(0.0) in (True, False)
