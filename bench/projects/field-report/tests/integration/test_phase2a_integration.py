import aioredis

from src.agent_orchestration import get_response_time_monitor


async def test_redis():
    client = aioredis.from_url("redis://localhost")
    assert client and get_response_time_monitor()
