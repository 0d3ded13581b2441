import sys

import pytest


class FakeRedis:
    def __init__(self):
        self.data = {}

    def set(self, key, value):
        self.data[key] = value

    def get(self, key):
        return self.data.get(key)


@pytest.fixture
def mock_redis_sync():
    return FakeRedis()


@pytest.fixture(autouse=True)
def isolate_modules():
    """Drops the modules a test imported first, so each test starts clean."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
