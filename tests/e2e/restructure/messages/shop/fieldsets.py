from shop.fields import Field

DEFAULT = [Field("name")]
