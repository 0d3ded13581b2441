import pytest

pytest_plugins = []


@pytest.fixture
def db():
    from pkg.mod import settings
    return settings


@pytest.fixture(scope="session")
def cfg(db):
    yield db
