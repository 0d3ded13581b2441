import json

import torchlike

from src.api.schemas import TaskStatus


def _update_status(redis, task_key, status, **details):
    record = {"status": TaskStatus(status).value, **details}
    redis.set(task_key, json.dumps(record))
    return record


def _calculate_edit_rate(original, edited):
    if not original:
        return 0.0
    changed = sum(1 for a, b in zip(original, edited) if a != b)
    changed += abs(len(original) - len(edited))
    return changed / len(torchlike.tensor(original))
