"""
Unit tests for worker pipeline helper functions.
"""
import json

from src.api.schemas import TaskStatus


class TestUpdateStatus:
    def test_update_status_basic(self, mock_redis_sync):
        from src.worker.pipeline import _update_status

        task_key = "task:test-task-123"
        _update_status(mock_redis_sync, task_key, TaskStatus.PROCESSING_ASR)
        assert json.loads(mock_redis_sync.get(task_key))["status"] == "processing_asr"

    def test_update_status_with_details(self, mock_redis_sync):
        from src.worker.pipeline import _update_status

        record = _update_status(mock_redis_sync, "task:1", TaskStatus.DONE, progress=100)
        assert record["progress"] == 100


class TestCalculateEditRate:
    def test_identical(self):
        from src.worker.pipeline import _calculate_edit_rate

        assert _calculate_edit_rate("abc", "abc") == 0.0

    def test_one_change(self):
        from src.worker.pipeline import _calculate_edit_rate

        assert _calculate_edit_rate("abcd", "abed") == 0.25

    def test_empty(self):
        from src.worker.pipeline import _calculate_edit_rate, _update_status

        assert _calculate_edit_rate("", "x") == 0.0
        assert callable(_update_status)
