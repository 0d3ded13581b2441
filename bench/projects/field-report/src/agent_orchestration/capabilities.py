import sys

if sys.version_info >= (3, 8):
    from typing import Protocol
else:  # pragma: no cover
    from typing_extensions import Protocol


class Capability(Protocol):
    name: str


CAPABILITIES = {}
