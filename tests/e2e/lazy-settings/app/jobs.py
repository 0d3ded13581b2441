"""Background jobs: `import pkg.mod as m` and an aliased `from` import."""

import app.config.settings as conf
from app.config.settings import settings as cfg


def job_config() -> dict:
    return {"url": conf.settings.database_url, "pool": cfg.pool_size}
