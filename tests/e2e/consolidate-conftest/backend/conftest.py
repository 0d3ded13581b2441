"""Shared test setup for the backend."""
import pytest

from app.db import Session
from app.models import register_models


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a slow test")
    register_models()


@pytest.fixture
def db_session():
    session = Session()
    yield session
    session.close()
