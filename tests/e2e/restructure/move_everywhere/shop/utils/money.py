"""Money formatting."""
from . import rounding
from .rounding import round_cents

CURRENCY = "EUR"


def format_price(amount):
    return f"{round_cents(amount) / 100:.2f} {CURRENCY}"


def cents(amount):
    return rounding.round_cents(amount)


def main():
    print(format_price(1))
