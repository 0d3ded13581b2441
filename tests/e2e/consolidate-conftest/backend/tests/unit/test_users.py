def test_user_is_saved(db_session, user):
    assert db_session.all("users") == [user]


def test_session_starts_without_trades(db_session):
    assert db_session.all("trades") == []
