from src.agent_orchestration.therapeutic_safety.validator import TherapeuticValidator


def test_validator_flags_blocked_words():
    v = TherapeuticValidator()
    assert v.is_safe("hello")
    assert not v.is_safe("self-harm")
