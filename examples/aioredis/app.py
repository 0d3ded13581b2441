"""Cache access."""
import aioredis
import aioredis as r2
from aioredis import Redis, from_url  # the client
from aioredis.client import Pipeline
from aioredis.exceptions import (
    ConnectionError,  # retried
    TimeoutError,
)


async def connect(url):
    return await aioredis.from_url(url)
