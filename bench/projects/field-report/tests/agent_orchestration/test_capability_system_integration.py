from src.agent_orchestration.performance.response_time_monitor import get_response_time_monitor
from src.agent_orchestration.therapeutic_safety.validator import TherapeuticValidator
from src.agent_orchestration.capabilities import CAPABILITIES


def test_monitor():
    assert get_response_time_monitor() is not None
    assert TherapeuticValidator().validate("x")
    assert CAPABILITIES == {}
