import aioredis
from datetime import datetime


def now():
    return datetime.utcnow()  # not configured for the library: stays
