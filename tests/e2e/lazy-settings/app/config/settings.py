"""Application settings, read from the environment."""

import os


class Settings:
    """Settings of the application; the database URL must be in the environment."""

    def __init__(self, debug: bool = False) -> None:
        # Raises KeyError when APP_DATABASE_URL is not set.
        self.database_url = os.environ["APP_DATABASE_URL"]
        self.debug = debug
        self.pool_size = int(os.environ.get("APP_POOL_SIZE", "5"))


settings = Settings(debug=False)
