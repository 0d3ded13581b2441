"""Routers of the player API (there is no settings router)."""
from . import auth, characters, players
from .chat import router as chat_router

__all__ = ["auth", "characters", "players", "chat_router"]
