from src.player_experience.api.app import create_app
from src.player_experience.api.routers import auth, chat_router, sessions


def test_app():
    assert create_app()["routers"]
    assert auth.routes() and chat_router is not None and sessions is not None
