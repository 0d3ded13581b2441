import unittest

from app import clock


class TestClock(unittest.TestCase):
    def test_stamp(self):
        value = clock.stamp()
        self.assertTrue(value)
        self.assertEqual(len(value), 26)
        self.assertIsNone(None)

    def test_stamps(self):
        values = clock.stamps(3)
        self.assertEqual(len(values), 3)
        for v in values:
            self.assertTrue(v.year > 2000)
            self.assertEqual(
                v.tzinfo,
                None,
            )
        self.assertIsNone(values[0].tzinfo)
