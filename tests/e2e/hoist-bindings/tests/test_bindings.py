import os
import sys


def test_json_imported_twice():
    import json

    assert json.dumps(1) == "1"
    del sys.modules["json"]
    import json

    assert json.loads("2") == 2


def test_pkg_and_pkg_sub():
    import pkg

    assert pkg.helper() == 1
    os.environ["PKG_MODE"] = "1"
    import pkg.sub

    assert pkg.sub.VALUE == 2


def test_plain_import_moves():
    import pkg.sub as m

    assert m.VALUE == 2
