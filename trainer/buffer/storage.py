"""Preallocated column storage for experiences: a numpy ring, one array per column."""

from __future__ import annotations

from typing import Any

import numpy as np

N_FEATURES = 28


class RingStorage:
    """Fixed-capacity columns; rows are written by index (the writer decides which)."""

    def __init__(self, capacity: int) -> None:
        """Allocate every column for `capacity` rows."""
        self.capacity = capacity
        self.features = np.zeros((capacity, N_FEATURES), dtype=np.float32)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.expected_reward = np.zeros(capacity, dtype=np.float32)
        self.gate_send = np.zeros(capacity, dtype=bool)
        self.propensity = np.ones(capacity, dtype=np.float32)
        self.model_version = np.zeros(capacity, dtype=np.int64)
        self.rules_version = np.zeros(capacity, dtype=np.int64)
        self.event_time = np.zeros(capacity, dtype=np.int64)
        self.epoch = np.zeros(capacity, dtype=np.int64)  # code of the game run (see the writer)
        self.completed = np.zeros(capacity, dtype=bool)
        self.priority = np.ones(capacity, dtype=np.float32)
        self.reward_emitted_at = np.zeros(capacity, dtype=np.int64)  # µs; 0 = not known
        self.used = np.zeros(capacity, dtype=bool)  # trained on by a published step
        self.decision_id: list[str | None] = [None] * capacity

    def write(self, index: int, row: dict[str, Any]) -> None:
        """Store `row` (column name -> value) at `index`."""
        for name, value in row.items():
            column = getattr(self, name)
            column[index] = value

    def state_dict(self) -> dict[str, Any]:
        """Return every column (for checkpoints)."""
        return {k: _copy(v) for k, v in vars(self).items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the columns of `state_dict()`."""
        for name, value in state.items():
            setattr(self, name, _copy(value))


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    return list(value) if isinstance(value, list) else value
