"""A six-like compat layer: `compat.moves` is filled in at run time."""
import sys
import types


def add_move(name, value):
    moves = sys.modules.setdefault("compat.moves", types.ModuleType("compat.moves"))
    setattr(moves, name, value)
