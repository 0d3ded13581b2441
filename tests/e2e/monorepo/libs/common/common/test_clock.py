import unittest


class TestClock(unittest.TestCase):
    def test_now(self):
        self.assertEqual(2, 2)  # the library has only the root's recipe
