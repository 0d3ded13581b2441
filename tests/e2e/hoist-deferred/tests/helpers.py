def fetch_json(url):
    # imported here so the tests can import this module without optional_dep
    import optional_dep

    return optional_dep.get(url)


def quadruple(x):
    from app.core import double

    return double(double(x))
