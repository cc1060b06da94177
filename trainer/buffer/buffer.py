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
from trainer.settings import ContinuousTrainingConfig


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
    propensity: np.ndarray | None = None  # logged probability of the action (None: unknown)


class ReplayBuffer:
    """Fixed capacity, FIFO eviction, dedupe by decision_id, sampling of fresh completed rows."""

    def __init__(
        self,
        capacity: int,
        min_size: int,
        sampler: UniformSampler | PrioritySampler,
        max_age_ms: int,
        max_version_lag: int,
        fresh_share: float = 0.0,
    ) -> None:
        """Build the storage and its writer; `min_size` eligible rows are needed to sample.

        `fresh_share`: up to this share of a batch is rows not trained on yet, newest first.
        """
        self.storage = RingStorage(capacity)
        self.writer = FifoWriter(self.storage)
        self.sampler = sampler
        self.min_size = min_size
        self.max_age_ms = max_age_ms
        self.max_version_lag = max_version_lag
        self.fresh_share = fresh_share

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
        fresh = self._newest_unused(candidates, int(batch_size * self.fresh_share))
        i, weights = fresh, np.ones(len(fresh), np.float32)
        if len(fresh) < batch_size:
            rest = np.setdiff1d(candidates, fresh, assume_unique=True)
            picked = self.sampler.sample(self.storage, rest, batch_size - len(fresh))
            i = np.concatenate([fresh, picked.indices])
            weights = np.concatenate([weights, picked.weights])
        s = self.storage
        return Batch(
            i,
            weights,
            s.features[i],
            s.action[i],
            s.reward[i],
            s.expected_reward[i],
            s.gate_send[i],
            s.rules_version[i],
            s.event_time[i],
            [s.decision_id[j] for j in i],
            propensity=s.propensity[i],
        )

    def _newest_unused(self, candidates: np.ndarray, n: int) -> np.ndarray:
        """Up to `n` candidates not trained on yet, newest (by event time) first."""
        unused = candidates[~self.storage.used[candidates]]
        if n <= 0 or len(unused) == 0:
            return unused[:0]
        newest_first = np.argsort(-self.storage.event_time[unused], kind="stable")
        return unused[newest_first[:n]]

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


def make_buffer(config: ContinuousTrainingConfig, seed: int | None = None) -> ReplayBuffer:
    """The replay buffer `config` describes (its sampler seeded with `seed`, else config.seed)."""
    seed = config.seed if seed is None else seed
    sampler = (
        PrioritySampler(config.priority_alpha, config.priority_beta, seed)
        if config.priority_sampling
        else UniformSampler(seed)
    )
    return ReplayBuffer(
        config.buffer_capacity,
        config.min_batch_size,
        sampler,
        int(config.max_experience_age_s * 1000),
        config.max_version_lag,
        config.fresh_share,
    )
