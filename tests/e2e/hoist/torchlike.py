"""A stand-in for torch: its C extension registers global state when the module is
executed, so executing it a second time in one process fails, as torch does."""
import sys

if getattr(sys, "_torchlike_initialised", False):
    raise RuntimeError("function '_has_torch_function' already has a docstring")
sys._torchlike_initialised = True


def tensor(values):
    return list(values)
