"""Database access: `from MODULE import NAME`."""

from app.config.settings import settings


def database_url() -> str:
    return settings.database_url


def pool_size(settings_override=None) -> int:
    # A parameter that merely looks like the instance is left alone.
    if settings_override is not None:
        return settings_override.pool_size
    return settings.pool_size
