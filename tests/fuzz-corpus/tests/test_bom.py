import aioredis


def test_bom():
    import json
    assert json
