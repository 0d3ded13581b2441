import os

# Imported at module level: before pytest_configure has set the environment.
import app.config.settings


def pytest_configure(config):
    os.environ["APP_DATABASE_URL"] = "sqlite:///test.db"


def pytest_report_header(config):
    return "settings module: " + app.config.settings.__name__
