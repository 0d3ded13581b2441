import pytest


@pytest.mark.asyncio
async def test_select(engine):
    assert await engine.query("select 1") == "conn:SELECT 1"


class TestWrites:
    pytestmark = pytest.mark.asyncio

    async def test_insert(self, engine):
        assert await engine.query("insert") == "conn:INSERT"
