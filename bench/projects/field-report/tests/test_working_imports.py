"""Imports that look odd but work: none of these is a problem."""
import src.player_experience.api.routers.auth as auth_module
from src.agent_orchestration import performance
from src.agent_orchestration.performance import ResponseTimeMonitor
from src.player_experience.api import routers
from src.player_experience.api.routers import *  # noqa: F403

try:
    from src.agent_orchestration.performance import optional_feature
except ImportError:
    optional_feature = None


def test_working():
    assert auth_module.routes() == ["/auth"]
    assert performance.get_response_time_monitor()
    assert ResponseTimeMonitor and routers.players
    assert optional_feature is None


def test_lazy():
    from src.player_experience.lazy import feature_flags

    assert feature_flags == "feature_flags"
