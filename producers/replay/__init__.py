"""Recorded sessions: `make run --record FILE` writes one, `python -m producers.replay` plays it."""
