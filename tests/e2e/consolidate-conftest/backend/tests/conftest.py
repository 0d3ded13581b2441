import pytest
from app.db import Session
from app.models import register_models


def pytest_configure(config):
    # Every model must be registered before collection.
    register_models()


@pytest.fixture
def db_session():
    # A fresh session per test.
    session = Session()
    yield session
    session.close()


@pytest.fixture
def user(db_session):
    return db_session.add("users", {"id": 1, "email": "ada@example.com"})
