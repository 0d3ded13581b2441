def test_sync_query(event_loop, engine):
    assert event_loop.run_until_complete(engine.query("update")) == "conn:UPDATE"


def test_plain():
    assert True
