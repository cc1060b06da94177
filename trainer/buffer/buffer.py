"""The replay buffer facade: storage + writer + sampler, and the minimum-size rate rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.records import Experience
from trainer.buffer.sampler import (
    PrioritySampler,
    UniformSampler,
    eligible,
    update_priorities,
)
from trainer.buffer.storage import RingStorage
from trainer.buffer.writer import FifoWriter, row_from_experience


@dataclass(frozen=True)
class Batch:
    """A sampled batch, as arrays."""

    indices: np.ndarray
    weights: np.ndarray
    features: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    expected_reward: np.ndarray
    gate_send: np.ndarray
    rules_version: np.ndarray
    event_time: np.ndarray
    decision_id: list[str | None]


class ReplayBuffer:
    """Fixed capacity, FIFO eviction, dedupe by decision_id, sampling of fresh completed rows."""

    def __init__(
        self,
        capacity: int,
        min_size: int,
        sampler: UniformSampler | PrioritySampler,
        max_age_ms: int,
        max_version_lag: int,
    ) -> None:
        """Build the storage and its writer; `min_size` eligible rows are needed to sample."""
        self.storage = RingStorage(capacity)
        self.writer = FifoWriter(self.storage)
        self.sampler = sampler
        self.min_size = min_size
        self.max_age_ms = max_age_ms
        self.max_version_lag = max_version_lag

    def __len__(self) -> int:
        return self.writer.size

    @property
    def duplicates(self) -> int:
        """Experiences ignored because their decision_id was already taken."""
        return self.writer.duplicates

    @property
    def completed_count(self) -> int:
        """Rows holding a reward."""
        return int(self.storage.completed[: len(self)].sum())

    def add(self, experience: Experience, used: bool = False) -> bool:
        """Store an experience; False when its decision_id was already taken.

        `used`: it was trained on before (refilled after a restart): not a first use.
        """
        return self.writer.add({**row_from_experience(experience), "used": used}) is not None

    def sample(self, batch_size: int, current_version: int) -> Batch | None:
        """Return a batch, or None when fewer than `min_size` rows are eligible."""
        candidates = eligible(
            self.storage, len(self), current_version, self.max_age_ms, self.max_version_lag
        )
        if len(candidates) < self.min_size:
            return None
        picked = self.sampler.sample(self.storage, candidates, batch_size)
        i = picked.indices
        s = self.storage
        return Batch(
            i,
            picked.weights,
            s.features[i],
            s.action[i],
            s.reward[i],
            s.expected_reward[i],
            s.gate_send[i],
            s.rules_version[i],
            s.event_time[i],
            [s.decision_id[j] for j in i],
        )

    def first_use(self, indices: np.ndarray) -> tuple[int, ...]:
        """Mark rows as trained on; return the known reward times of those used the first time."""
        fresh = indices[~self.storage.used[indices]]
        self.storage.used[fresh] = True
        times = self.storage.reward_emitted_at[np.unique(fresh)]
        return tuple(times[times > 0].tolist())

    def update_priorities(self, indices: np.ndarray, errors: np.ndarray) -> None:
        """Record the batch's last absolute errors (used by priority sampling)."""
        update_priorities(self.storage, indices, errors)

    def state_dict(self) -> dict[str, Any]:
        """Return storage and writer state (for checkpoints)."""
        return {"storage": self.storage.state_dict(), "writer": self.writer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`."""
        self.storage.load_state_dict(state["storage"])
        self.writer.load_state_dict(state["writer"])
