"""The FIFO writer: overwrites the oldest row when full, and takes each decision_id once."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from queen.rules import N_TYPES
from schemas.enums import GateDecision
from schemas.records import Experience
from trainer.buffer.storage import RingStorage

SPAWN_TYPE_INDEX = {"WORKER": 0, "SOLDIER": 1, "SCOUT": 2, "GUARD": 3}


def row_from_experience(experience: Experience) -> dict[str, Any]:
    """Return the storage row of an Experience record."""
    d = experience.decision
    return {
        "features": d.features,
        "action": d.action.spawn_chunk * N_TYPES + SPAWN_TYPE_INDEX[d.action.spawn_type.value],
        "reward": experience.reward,
        "expected_reward": d.expected_reward,
        "gate_send": d.gate_decision is GateDecision.SEND,
        "propensity": d.action_probability,
        "model_version": d.model_version,
        "rules_version": d.rules_version,
        "event_time": d.event_time,
        "completed": True,
        "decision_id": d.decision_id,
        "epoch": d.epoch,
        "reward_emitted_at": experience.reward_emitted_at or 0,
    }


class FifoWriter:
    """Writes rows in arrival order; remembers `memory` recent decision_ids to drop duplicates.

    The memory outlives FIFO eviction (it is several times the capacity), so an experience
    re-delivered after its first copy left the buffer is still recognised.
    """

    def __init__(self, storage: RingStorage, memory: int | None = None) -> None:
        """Write into `storage`."""
        self.storage = storage
        self.cursor = 0
        self.size = 0
        self.memory = memory or 20 * storage.capacity
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0
        self.epochs: dict[str, int] = {}  # epoch -> code, for the epochs stored
        self._next_code = 0

    def add(self, row: dict[str, Any]) -> int | None:
        """Write `row`; return its index, or None when its decision_id was seen before.

        The row's `epoch` (a string) is stored as a small code, the same for the same epoch.
        """
        row = {**row, "epoch": self._epoch_code(row.get("epoch", ""))}
        decision_id = row["decision_id"]
        if decision_id in self.seen:
            self.duplicates += 1
            return None
        self.seen[decision_id] = None
        if len(self.seen) > self.memory:
            self.seen.popitem(last=False)
        index = self.cursor
        self.storage.write(index, {"priority": self._max_priority(), "used": False, **row})
        self.cursor = (self.cursor + 1) % self.storage.capacity
        self.size = min(self.size + 1, self.storage.capacity)
        return index

    def _epoch_code(self, epoch: str) -> int:
        code = self.epochs.get(epoch)
        if code is None:
            if len(self.epochs) >= self.storage.capacity:  # keep only the epochs still stored
                present = set(self.storage.epoch[: self.size].tolist())
                self.epochs = {e: c for e, c in self.epochs.items() if c in present}
            code = self.epochs[epoch] = self._next_code
            self._next_code += 1
        return code

    def _max_priority(self) -> float:
        if self.size == 0:
            return 1.0
        return float(self.storage.priority[: self.size].max())

    def state_dict(self) -> dict[str, Any]:
        """Return the writer's position and id memory."""
        return {"cursor": self.cursor, "size": self.size, "seen": list(self.seen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`."""
        self.cursor, self.size = state["cursor"], state["size"]
        self.seen = OrderedDict.fromkeys(state["seen"])
