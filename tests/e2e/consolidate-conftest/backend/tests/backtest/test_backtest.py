def test_backtest_session_is_seeded(db_session):
    assert len(db_session.all("trades")) == 1


def test_strategy_sees_the_seeded_session(strategy):
    assert strategy["trades"][0]["symbol"] == "EURUSD"
