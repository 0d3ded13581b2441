import json


def update_status(redis, task_key, status, **details):
    record = {"status": status, **details}
    redis.set(task_key, json.dumps(record))
    return record


def calculate_edit_rate(original, edited):
    if not original:
        return 0.0
    changed = sum(1 for a, b in zip(original, edited) if a != b)
    return (changed + abs(len(original) - len(edited))) / len(original)
