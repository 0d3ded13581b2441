import os
from aioredis import Redis


class Settings:
	debug = False


settings = Settings()


def main():
	import json
	return json.dumps(settings.debug)
