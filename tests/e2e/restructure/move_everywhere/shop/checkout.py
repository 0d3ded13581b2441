import shop.utils


def currency():
    return shop.utils.money.CURRENCY
