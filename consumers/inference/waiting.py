"""Observations that name a rules version inference does not know yet, held briefly.

A patch publishes its rule set on `queen.rules` before the game plays it, but the rule set and
the first observations under it travel on different topics, and a reader may learn it a moment
after they arrive. So an observation of an unknown version waits, up to `QUEEN_RULES_WAIT_S`,
in this room, apart from its batch: the rest of the batch is decided at once. It leaves as
soon as the rule book knows its version (decided under its own rules) or when its wait is over
(decided under the documented policy, see consumers/inference/handler.py). The room holds at
most `capacity` observations; beyond, the oldest leave early, as if their wait were over.
While a record waits, the offset committed for its partition stays at it, so a crash re-reads
it; a partition revoked leaves its records to the next owner. Pure; times are wall seconds.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

from runtime.handler import Incoming, Position


@dataclass(frozen=True, slots=True)
class Held:
    """One observation waiting for its rules, until `until`."""

    item: Incoming
    until: float


class WaitingRoom:
    """Observations waiting for their rules version, oldest first."""

    def __init__(self, wait_s: float, capacity: int) -> None:
        """Hold each observation at most `wait_s` seconds, at most `capacity` at a time."""
        self.wait_s = wait_s
        self.capacity = capacity
        self.held: list[Held] = []
        self._where: set[tuple[str, int, int]] = set()  # (topic, partition, offset) held

    def __len__(self) -> int:
        return len(self.held)

    def park(self, item: Incoming, now: float) -> None:
        """Hold `item` until its rules are known or `wait_s` has passed.

        A record held already (the loop handles a batch again after a failure) stays once.
        """
        where = _where(item)
        if where in self._where:
            return
        self._where.add(where)
        self.held.append(Held(item, now + self.wait_s))

    def due(self, known: Container[int], now: float) -> tuple[list[Incoming], list[Incoming]]:
        """Return (rules now known, wait over); they stay held until `remove`d."""
        ready: list[Incoming] = []
        over: list[Incoming] = []
        overflow = len(self.held) - self.capacity
        for i, held in enumerate(self.held):
            if held.item.record.rules_version in known:
                ready.append(held.item)
            elif held.until <= now or i < overflow:
                over.append(held.item)
        return ready, over

    def remove(self, items: Sequence[Incoming]) -> None:
        """Forget `items` (decided): removed only once their decisions exist."""
        gone = {id(item) for item in items}
        self.held = [h for h in self.held if id(h.item) not in gone]
        self._where -= {_where(item) for item in items}

    def floors(self) -> dict[Position, int]:
        """The lowest offset held per (topic, partition): commits must stay at or below it."""
        out: dict[Position, int] = {}
        for held in self.held:
            m = held.item.message
            position = (m.topic(), m.partition())
            out[position] = min(out.get(position, m.offset()), m.offset())
        return out

    def drop(self, partitions: Sequence[Position]) -> int:
        """Forget the records of `partitions` (revoked: their next owner reads them again)."""
        gone = set(partitions)
        before = len(self.held)
        self.held = [
            h for h in self.held if (h.item.message.topic(), h.item.message.partition()) not in gone
        ]
        self._where = {_where(h.item) for h in self.held}
        return before - len(self.held)


def _where(item: Incoming) -> tuple[str, int, int]:
    m = item.message
    return (m.topic(), m.partition(), m.offset())
