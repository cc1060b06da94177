"""The game's decision book for one tick: which decision each territory sent in time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from queen.rules import N_TYPES, SPAWN_TYPES
from queen.state import territory_index
from schemas.enums import DecisionStatus, GateDecision
from schemas.records import Decision

TYPE_INDEX = {name: i for i, name in enumerate(SPAWN_TYPES)}


@dataclass
class DecisionBook:
    """Decisions received for the current tick `seq`, first one per territory wins."""

    n_territories: int
    seq: int
    decisions: dict[int, Decision] = field(default_factory=dict)
    late: int = 0
    duplicates: int = 0
    unknown: int = 0

    def offer(self, decision: Decision) -> None:
        """Record a decision: in time for this tick, late (older tick), or unknown."""
        if decision.seq < self.seq:
            self.late += 1
            return
        try:
            index = territory_index(decision.territory_id)
        except ValueError:
            self.unknown += 1
            return
        if decision.seq > self.seq or index >= self.n_territories:
            self.unknown += 1
        elif index in self.decisions:
            self.duplicates += 1
        else:
            self.decisions[index] = decision

    def actions(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ((N,) joint actions, -1 where none, (N,) send) for the world."""
        action = np.full(self.n_territories, -1, dtype=np.int64)
        send = np.zeros(self.n_territories, dtype=bool)
        for index, d in self.decisions.items():
            action[index] = d.action.spawn_chunk * N_TYPES + TYPE_INDEX[d.action.spawn_type.value]
            send[index] = d.gate_decision is GateDecision.SEND
        return action, send

    def status(self, index: int) -> tuple[str | None, DecisionStatus]:
        """Return (decision_id, status) of a territory's decision for this tick."""
        d = self.decisions.get(index)
        if d is None:
            return None, DecisionStatus.MISSING
        if d.gate_decision is GateDecision.SEND:
            return d.decision_id, DecisionStatus.APPLIED
        return d.decision_id, DecisionStatus.WAITED
