import asyncio

import pytest
import pytest_asyncio

from app.engine import Engine


@pytest.fixture(scope="session")
def event_loop():
    """One loop for the session: the engine is bound to it."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest_asyncio.fixture(scope="session")
async def engine():
    e = Engine()
    await e.connect()
    yield e
    await e.close()
