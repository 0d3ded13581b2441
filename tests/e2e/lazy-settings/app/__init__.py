"""The application; re-exports its settings for convenience."""

from .config.settings import settings

__all__ = ["settings"]
