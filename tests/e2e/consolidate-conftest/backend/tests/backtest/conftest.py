import pytest

from app.db import Session


@pytest.fixture
def db_session():
    """The backtests run against seeded data."""
    session = Session()
    session.add("trades", {"id": 1, "symbol": "EURUSD", "qty": 10})
    yield session
    session.close()


@pytest.fixture
def strategy(db_session):
    return {"symbol": "EURUSD", "trades": db_session.all("trades")}
