import importlib.util

import pytest

HAS_FANCY = importlib.util.find_spec("fancy_missing_lib") is not None
requires_fancy = pytest.mark.skipif(not HAS_FANCY, reason="needs fancy_missing_lib")


@requires_fancy
def test_with_fancy():
    import fancy_missing_lib

    assert fancy_missing_lib


@requires_fancy
class TestFancy:
    def test_in_class(self):
        from fancy_missing_lib import thing

        assert thing


def test_plain_import_moves():
    import json

    assert json
