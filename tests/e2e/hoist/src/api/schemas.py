import enum


class TaskStatus(str, enum.Enum):
    PENDING = "pending"
    PROCESSING_ASR = "processing_asr"
    DONE = "done"
