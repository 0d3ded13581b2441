"""Form fields. A field is a shop.fields.Field; see also shop.fieldsets (another module)."""


class Field:
    def __init__(self, name):
        self.name = name


def require_field(value):
    if not isinstance(value, Field):
        raise ValueError("must be an instance of "
                         "shop.fields.Field.")
    return value


def describe(value):
    cls = type(value)
    return f"a {cls.__module__}.{cls.__qualname__} named {value.name}"


def reject(value):
    raise TypeError("shop.fields.Field")
