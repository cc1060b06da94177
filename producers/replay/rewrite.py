"""A replay's own epoch: records move to new epochs and ids, so they meet no live tick.

A tick is (epoch, territory_id, seq), and decisions are judged by observation_id and
decision_id: replayed as they were, a session's records would be duplicates of ticks the
joiner or the trainer already took (and dropped), or collide with a game running now. So by
default each recorded epoch becomes a new one, `replay-<run>-<hash of the old>`, and every
observation and decision id is mapped to a new one (the same old id always to the same new
id, so a Reward still names its observation and its decision). `keep` replays records as
they were (reproducing an incident in a cluster of its own).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid

from producers.replay.session import SessionRecord
from schemas.records import Decision, Experience, Observation, Reward


class Rewriter:
    """Maps epochs and ids for one replay run."""

    def __init__(self, keep: bool = False, run: str | None = None) -> None:
        """`run` names this replay (default: fresh); `keep` leaves records as they are."""
        self.keep = keep
        self.run = run or uuid.uuid4().hex[:8]
        self.epochs: dict[str, str] = {}

    def _hash(self, text: str, n: int) -> str:
        return hashlib.sha256(f"{self.run}/{text}".encode()).hexdigest()[:n]

    def epoch(self, old: str) -> str:
        """The replay's epoch for a recorded one."""
        new = self.epochs.get(old)
        if new is None:
            new = self.epochs[old] = f"replay-{self.run}-{self._hash(old, 12)}"
        return new

    def id(self, old: str) -> str:
        """The replay's id for a recorded observation or decision id."""
        return self._hash(old, 32)

    def _decision(self, d: Decision) -> Decision:
        return dataclasses.replace(
            d,
            decision_id=self.id(d.decision_id),
            observation_id=self.id(d.observation_id),
            epoch=self.epoch(d.epoch),
        )

    def __call__(self, record: SessionRecord) -> SessionRecord:
        """The record as this replay writes it."""
        if self.keep:
            return record
        if isinstance(record, Observation):
            return dataclasses.replace(
                record,
                observation_id=self.id(record.observation_id),
                epoch=self.epoch(record.epoch),
            )
        if isinstance(record, Decision):
            return self._decision(record)
        if isinstance(record, Reward):
            return dataclasses.replace(
                record,
                epoch=self.epoch(record.epoch),
                decision_id=None if record.decision_id is None else self.id(record.decision_id),
                observation_id=None
                if record.observation_id is None
                else self.id(record.observation_id),
            )
        assert isinstance(record, Experience)
        return dataclasses.replace(record, decision=self._decision(record.decision))
