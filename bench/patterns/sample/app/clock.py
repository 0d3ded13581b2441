"""Timestamps for the sample app."""
import logging
from datetime import datetime, timezone

log = logging.getLogger(__name__)


def stamp():
    now = datetime.utcnow()
    if now.year < 2000:
        log.warn("clock is off: %s", now)
    return now.isoformat()


def stamps(n):
    logger = log
    out = [datetime.utcnow() for _ in range(n)]
    logger.warn("made %d stamps", n)
    return out
