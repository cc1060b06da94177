"""Samplers: uniform or priority-proportional, over completed and fresh rows only.

A row is eligible when it is completed, not older than `max_age_ms` of game time behind the
newest row *of its epoch* (each run of the game has its own clock: a restarted game's rows are
not stale next to the previous run's), and made by a model at most `max_version_lag` versions
behind the current one (the seed's "stale experiences" risk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.buffer.storage import RingStorage


@dataclass(frozen=True)
class Sample:
    """Indices of sampled rows and their importance weights (1 for uniform sampling)."""

    indices: np.ndarray
    weights: np.ndarray


def eligible(
    storage: RingStorage, size: int, current_version: int, max_age_ms: int, max_version_lag: int
) -> np.ndarray:
    """Return the indices (< size) of rows that may be sampled."""
    rows = slice(0, size)
    event_time = storage.event_time[rows]
    epochs = storage.epoch[rows]
    newest = np.full(int(epochs.max()) + 1 if size else 1, np.iinfo(np.int64).min)
    np.maximum.at(newest, epochs, event_time)
    ok = storage.completed[rows]
    ok &= event_time >= newest[epochs] - max_age_ms
    ok &= storage.model_version[rows] >= current_version - max_version_lag
    return np.flatnonzero(ok)


class UniformSampler:
    """Every eligible row equally likely, without replacement."""

    def __init__(self, seed: int = 0) -> None:
        """Seed the sampler."""
        self.rng = np.random.default_rng(seed)

    def sample(self, storage: RingStorage, candidates: np.ndarray, n: int) -> Sample:
        """Pick min(n, len(candidates)) rows."""
        chosen = self.rng.choice(candidates, size=min(n, len(candidates)), replace=False)
        return Sample(chosen, np.ones(len(chosen), dtype=np.float32))


class PrioritySampler:
    """P(i) ∝ priority_i^alpha; importance weights (N·P(i))^-beta, normalised by their max."""

    def __init__(self, alpha: float = 0.6, beta: float = 0.4, seed: int = 0) -> None:
        """Seed the sampler and set its exponents."""
        self.alpha, self.beta = alpha, beta
        self.rng = np.random.default_rng(seed)

    def probabilities(self, storage: RingStorage, candidates: np.ndarray) -> np.ndarray:
        """Return the sampling probability of each candidate."""
        p = storage.priority[candidates].astype(np.float64) ** self.alpha
        return p / p.sum()

    def sample(self, storage: RingStorage, candidates: np.ndarray, n: int) -> Sample:
        """Pick min(n, len(candidates)) rows by priority, without replacement."""
        p = self.probabilities(storage, candidates)
        k = min(n, len(candidates))
        chosen_pos = self.rng.choice(len(candidates), size=k, replace=False, p=p)
        weights = (len(candidates) * p[chosen_pos]) ** -self.beta
        return Sample(candidates[chosen_pos], (weights / weights.max()).astype(np.float32))


def update_priorities(storage: RingStorage, indices: np.ndarray, errors: np.ndarray) -> None:
    """Set the rows' priorities to their last absolute error (plus a floor)."""
    storage.priority[indices] = np.abs(errors) + 1e-3
