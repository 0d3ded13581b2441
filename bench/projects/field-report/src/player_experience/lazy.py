"""Names made on first use (PEP 562): any name may exist."""


def __getattr__(name):
    if name.startswith("feature_"):
        return name
    raise AttributeError(name)
