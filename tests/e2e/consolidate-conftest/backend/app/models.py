from app.registry import register


def register_models():
    register("users", ["id", "email"])
    register("trades", ["id", "symbol", "qty"])
