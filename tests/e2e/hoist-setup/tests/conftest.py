import sys

import pytest


@pytest.fixture
def fresh_counter():
    """A fresh import of counter_mod for the test."""
    sys.modules.pop("counter_mod", None)
    return getattr(sys, "counter_mod_runs", 0)
