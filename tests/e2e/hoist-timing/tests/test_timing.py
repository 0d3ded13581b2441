import collections

import compat


def test_attribute_set_before_the_import():
    collections.answer = 42
    from collections import answer

    assert answer == 42


def test_move_added_before_the_import():
    compat.add_move("spam", "eggs")
    from compat.moves import spam

    assert spam == "eggs"


def test_early_return_guards_the_import():
    if not hasattr(compat, "missing_feature"):
        return
    import missing_feature_module

    assert missing_feature_module


def test_plain_import_moves():
    import json

    assert json.loads("1") == 1
