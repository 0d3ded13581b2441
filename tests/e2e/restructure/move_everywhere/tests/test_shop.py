from unittest import mock

import shop.cart
import shop.checkout
from shop.utils import report


def test_total():
    assert shop.cart.total([1, 2.5]) == "3.50 EUR"


def test_load_by_name():
    assert shop.cart.load().CURRENCY == "EUR"


def test_checkout_currency():
    assert shop.checkout.currency() == "EUR"


def test_patch_by_string():
    with mock.patch("shop.utils.money.CURRENCY", "USD"):
        assert shop.cart.load().format_price(1) == "1.00 USD"


def test_report():
    assert report.line("tea", 2) == "tea: 2.00 EUR (200)"
