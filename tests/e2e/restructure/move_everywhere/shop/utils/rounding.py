def round_cents(value):
    return int(round(value * 100))
