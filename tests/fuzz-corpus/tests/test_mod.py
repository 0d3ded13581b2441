import unittest
from datetime import datetime
from unittest import mock


class T(unittest.TestCase):
    def test_eq(self):
        from pkg.mod import main
        self.assertEqual(main(), "false")
        self.assertEqual(
            datetime.utcnow().year,  # now
            2026,
        )

    @mock.patch("pkg.mod.settings")
    def test_patch(self, s):
        import pkg.strings as st
        self.assertEqual(st.A[:1], "t")
