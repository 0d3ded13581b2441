"""A stand-in for redis.asyncio."""


class Redis:
    def __init__(self, url):
        self.url = url
        self.data = {}

    async def set(self, key, value):
        self.data[key] = value

    async def get(self, key):
        return self.data.get(key)


def from_url(url):
    return Redis(url)
