import sys
import unittest


def test_requested_fixture_gives_a_fresh_import(fresh_counter):
    import counter_mod

    assert counter_mod.RUNS == fresh_counter + 1


class TestSetUp(unittest.TestCase):
    def setUp(self):
        sys.modules.pop("counter_mod", None)
        self.before = getattr(sys, "counter_mod_runs", 0)

    def test_set_up_gives_a_fresh_import(self):
        import counter_mod

        assert counter_mod.RUNS == self.before + 1


def test_import_side_effect_is_captured(capsys):
    import noisy_mod

    assert noisy_mod
    assert "noisy_mod imported" in capsys.readouterr().out


def test_plain_import_moves():
    import json

    assert json.dumps([]) == "[]"
