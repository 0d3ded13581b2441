import pytest

from app.registry import TABLES


def test_every_model_is_registered_once():
    assert sorted(TABLES) == ["trades", "users"]


@pytest.mark.slow
def test_marker_is_registered(pytestconfig):
    assert any(m.startswith("slow:") for m in pytestconfig.getini("markers"))
