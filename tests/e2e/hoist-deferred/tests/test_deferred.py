import sys

import pytest

from tests.helpers import quadruple


def test_helper_without_the_optional_dependency():
    assert quadruple(2) == 8


def test_needs_the_missing_module():
    import optional_dep

    assert optional_dep


def test_module_written_at_run_time(tmp_path, monkeypatch):
    (tmp_path / "generated_mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import generated_mod

    assert generated_mod.X == 1


def test_project_module_moves():
    from app.core import double

    assert double(3) == 6
