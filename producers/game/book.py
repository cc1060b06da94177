"""The game's decision book for one tick: which decision each territory acts on.

A decision counts for a territory only when it answers that territory's observation of the
current tick (by observation_id), and only the first such decision does: a second one for the
same observation (an inference instance re-decided its batch after a restart) is a duplicate,
one answering an earlier tick's observation is late, and one answering no observation of this
game (another epoch, another game, a forgery) is unknown. So one decision is applied per
observation, whatever inference does. The judging is the game-side client's (`Ledger`, in
producers/client/core.py): the simulated game reads decisions the way any game does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from producers.client.core import Ledger, Verdict, status_of, tick_ledger
from queen.rules import N_TYPES, SPAWN_TYPES
from schemas.enums import DecisionStatus
from schemas.records import Decision

TYPE_INDEX = {name: i for i, name in enumerate(SPAWN_TYPES)}


@dataclass
class DecisionBook:
    """Decisions received for the current tick: the first answering each observation wins."""

    observation_ids: Sequence[str]  # the current tick's observation of territory i
    earlier: frozenset[str] = frozenset()  # observation ids of the previous ticks
    decisions: dict[int, Decision] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {oid: i for i, oid in enumerate(self.observation_ids)}
        self.ledger: Ledger = tick_ledger(self.observation_ids, self.earlier)

    @property
    def late(self) -> int:
        """Decisions for an earlier tick's observation."""
        return self.ledger.counts[Verdict.LATE]

    @property
    def duplicates(self) -> int:
        """Second decisions for one of this tick's observations."""
        return self.ledger.counts[Verdict.DUPLICATE]

    @property
    def unknown(self) -> int:
        """Decisions for no observation of this game."""
        return self.ledger.counts[Verdict.UNKNOWN]

    def offer(self, decision: Decision) -> None:
        """Record a decision: in time for this tick, a duplicate, late, or unknown."""
        if self.ledger.offer(decision) is Verdict.ACCEPTED:
            self.decisions[self._index[decision.observation_id]] = decision

    def actions(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ((N,) joint actions, -1 where none, (N,) send) for the world."""
        n = len(self.observation_ids)
        action = np.full(n, -1, dtype=np.int64)
        send = np.zeros(n, dtype=bool)
        for index, d in self.decisions.items():
            action[index] = d.action.spawn_chunk * N_TYPES + TYPE_INDEX[d.action.spawn_type.value]
            send[index] = status_of(d) is DecisionStatus.APPLIED
        return action, send

    def status(self, index: int) -> tuple[str | None, DecisionStatus]:
        """Return (decision_id, status) of a territory's decision for this tick."""
        d = self.decisions.get(index)
        return (None if d is None else d.decision_id), status_of(d)
