from app import api, db, jobs, views
from app.config.settings import settings


def test_from_import():
    assert db.database_url() == "sqlite:///test.db"
    assert db.pool_size() == 5


def test_dotted_module_path():
    assert views.debug_enabled() is False


def test_module_alias_and_from_alias():
    assert jobs.job_config() == {"url": "sqlite:///test.db", "pool": 5}


def test_through_the_package():
    handler = api.Handler()
    assert handler.describe() == "sqlite:///test.db"
    assert handler.describe("x") == "x"
    assert handler.url() == "sqlite:///test.db"
    assert handler.same()


def test_direct_use_in_test():
    assert settings.database_url == "sqlite:///test.db"
