import asyncio

import aioredis


def test_cache_roundtrip():
    async def go():
        client = aioredis.from_url("redis://localhost")
        await client.set("k", "v")
        return await client.get("k")

    assert asyncio.run(go()) == "v"
