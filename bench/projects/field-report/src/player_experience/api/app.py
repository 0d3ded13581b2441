"""The FastAPI-like application."""
from .routers import auth, characters, players, worlds, chat, sessions, settings

try:
    from .routers import progress
except ImportError:  # optional router
    progress = None

ROUTERS = [auth, characters, players, worlds, chat, sessions, settings]


def create_app():
    return {"routers": ROUTERS, "progress": progress}
