import aioredis


async def connect():
    return aioredis.from_url("redis://localhost")
