"""A stand-in for SQLAlchemy's metadata: registering a table a second time fails the
way creating its index twice does."""

TABLES = {}


class RegistryError(Exception):
    pass


def register(name, columns):
    if name in TABLES:
        raise RegistryError(f"index ix_{name}_id already exists")
    TABLES[name] = list(columns)
