"""Module docstring with >>> import x and 'quotes'."""
from __future__ import annotations

import sys

A = '''triple
import inside a string
'''
B = f"{sys.argv!r:>{10}} {'nested' + f'{1}'}"
C = rb'\x00\\' "implicit" 'concat'
D = "line \
continued"
E = (  # comment in brackets
    1,
    2,  # another
)


def g(x, /, *args, y=lambda: (yield), **kw) -> "A":
    """Doc."""
    from pkg.mod import settings  # noqa: PLC0415
    import pkg.mod as m
    global B
    match x:
        case {"k": [1, *rest]} if rest:
            import collections
            return collections
        case _:
            pass
    return m, settings


async def h():
    async with x as y, z:
        import asyncio
    return [i async for i in y]


class K(metaclass=type):
    import typing
    x: "typing.Any" = 1

    def m(self):
        from . import mod
        return mod
