"""Tests of the worker pipeline helpers."""
import json

import pytest


@pytest.fixture
def redis():
    class FakeRedis(dict):
        def set(self, key, value):
            self[key] = value

    return FakeRedis()


class TestUpdateStatus:
    def test_basic(self, redis):
        from src.worker.pipeline import update_status

        update_status(redis, "task:1", "processing")
        assert json.loads(redis["task:1"])["status"] == "processing"

    def test_with_details(self, redis):
        from src.worker.pipeline import update_status

        record = update_status(redis, "task:2", "done", progress=100)
        assert record["progress"] == 100


def test_edit_rate():
    # The rate is the share of changed characters.
    from src.worker.pipeline import (
        calculate_edit_rate,  # under test
    )
    import math

    assert math.isclose(calculate_edit_rate("abcd", "abed"), 0.25)


def test_optional_speedup():
    try:
        import ujson as fast_json
    except ImportError:
        fast_json = json
    assert fast_json.dumps({}) == "{}"
