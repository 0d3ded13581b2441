class Session:
    """An in-memory session: a fresh one per test."""

    def __init__(self):
        self.tables = {}

    def add(self, table, row):
        self.tables.setdefault(table, []).append(row)
        return row

    def all(self, table):
        return list(self.tables.get(table, []))

    def close(self):
        self.tables.clear()
