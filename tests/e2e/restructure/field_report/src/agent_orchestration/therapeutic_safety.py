"""Safety validation of therapeutic content."""
from . import timing

__all__ = ["TherapeuticValidator", "validate"]

BLOCKED = ("self-harm",)


class TherapeuticValidator:
    def __init__(self):
        self.checked_at = None

    def is_safe(self, text):
        self.checked_at = timing.now_ms()
        return not any(word in text for word in BLOCKED)


def validate(text):
    return TherapeuticValidator().is_safe(text)
