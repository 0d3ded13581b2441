import importlib

import shop.utils.money
import shop.utils.money as m
from shop.utils import money
from shop.utils import money as mny
from shop.utils import rounding, money as mm  # both helpers
from shop.utils.money import (
    CURRENCY,  # the default currency
    format_price,
)

from .utils import money as rel_money
from .utils.money import cents as c


def total(amounts):
    value = sum(amounts)
    assert shop.utils.money.format_price(value) == m.format_price(value)
    assert money.cents(value) == mny.cents(value) == mm.cents(value) == c(value)
    assert rel_money.CURRENCY == CURRENCY
    assert rounding.round_cents(value) == c(value)
    return format_price(value)


def load():
    return importlib.import_module("shop.utils.money")
