"""A stand-in for redis-py: only what the tests use."""
