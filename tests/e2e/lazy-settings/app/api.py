"""API: through the re-exporting package, and `from pkg import mod`."""

from app import config
from app import settings
from app import settings as app_settings


class Handler:
    def describe(self, settings=None) -> str:
        # The parameter shadows the module-level name: not the instance.
        if settings is not None:
            return str(settings)
        return config.settings.settings.database_url

    def url(self) -> str:
        return settings.database_url

    def same(self) -> bool:
        return app_settings is settings
