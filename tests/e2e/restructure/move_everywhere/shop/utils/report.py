from . import money
from .money import format_price


def line(name, amount):
    return f"{name}: {format_price(amount)} ({money.cents(amount)})"
