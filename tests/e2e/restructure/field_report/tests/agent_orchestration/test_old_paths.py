import src.agent_orchestration.therapeutic_safety as safety
from src.agent_orchestration.performance import (
    RESPONSE_BUDGET_MS,
    ResponseTimeMonitor,
    get_response_time_monitor,
)


def test_old_import_paths_still_work():
    assert RESPONSE_BUDGET_MS == 200
    assert isinstance(get_response_time_monitor(), ResponseTimeMonitor)
    assert safety.validate("fine")
    assert safety.TherapeuticValidator().is_safe("fine")
