"""Views: `import pkg.mod` and the full dotted path."""

import app.config.settings


def debug_enabled() -> bool:
    return app.config.settings.settings.debug
