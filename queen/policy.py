"""Policies: the exploring policy with its propensities, and the random and oracle baselines.

The exploring policy is epsilon-greedy or softmax with a temperature over QueenNN's values;
`propensity` is the exact probability with which it picked the action, so logged decisions
support unbiased learning and off-policy evaluation. Seeded numpy Generators; torch for infer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from queen.dynamics import expected_rewards_all
from queen.model import QueenNN
from queen.rules import N_ACTIONS, RuleSet
from queen.state import TerritoryBatch


@dataclass(frozen=True)
class Inference:
    """A batch of decisions: action, confidence, propensity, and the model's values."""

    actions: np.ndarray  # (N,) int64 joint action
    confidence: np.ndarray  # (N,) greedy action's softmax probability, in [0, 1]
    propensity: np.ndarray  # (N,) probability the policy picked `actions`
    values: np.ndarray  # (N, 32) the model's action values


@dataclass(frozen=True)
class ExplorationConfig:
    """How the policy explores."""

    mode: str = "epsilon"  # "epsilon" (epsilon-greedy) or "softmax"
    epsilon: float = 0.1  # share of uniformly random actions (epsilon mode)
    temperature: float = 0.1  # softmax temperature over values (softmax mode; also confidence)

    def __post_init__(self) -> None:
        """Validate the values."""
        if self.mode not in ("epsilon", "softmax"):
            raise ValueError(f"mode={self.mode!r}: must be 'epsilon' or 'softmax'")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon={self.epsilon!r}: must be in [0, 1]")
        if not self.temperature > 0.0:
            raise ValueError(f"temperature={self.temperature!r}: must be > 0")

    @property
    def explores(self) -> bool:
        """True when every action has a positive probability (off-policy evaluation needs it).

        Epsilon-greedy with ε = 0 logs nothing but the greedy action: no estimate of another
        policy from its logs is unbiased.
        """
        return self.mode == "softmax" or self.epsilon > 0.0


def _softmax(values: np.ndarray, temperature: float) -> np.ndarray:
    z = values / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def action_probabilities(values: np.ndarray, config: ExplorationConfig) -> np.ndarray:
    """Return (N, 32): the probability the policy of `config` picks each action on `values`.

    The same rule as `ExplorationPolicy.choose` (its propensities are these, read at the action
    it picked): epsilon-greedy puts 1 − ε + ε/32 on the greedy action (the first maximum, as
    argmax) and ε/32 on each other; softmax is the softmax of values / temperature. A target
    policy's probabilities for off-policy evaluation (queen/ope.py). Rows sum to 1.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != N_ACTIONS:
        raise ValueError(f"values shape {values.shape}: must be (N, {N_ACTIONS})")
    if config.mode == "softmax":
        return _softmax(values, config.temperature)
    n, eps = values.shape[0], config.epsilon
    probs = np.full((n, N_ACTIONS), eps / N_ACTIONS)
    probs[np.arange(n), values.argmax(axis=1)] += 1.0 - eps
    return probs


class ExplorationPolicy:
    """Picks actions from QueenNN's values and reports their propensities."""

    def __init__(self, config: ExplorationConfig | None = None, seed: int = 0) -> None:
        """Seed the policy's own generator."""
        self.config = config or ExplorationConfig()
        self.rng = np.random.default_rng(seed)

    def infer(self, model: QueenNN, features: np.ndarray) -> Inference:
        """Run the model on (N, 28) features and pick one action per row."""
        with torch.inference_mode():
            values = model(torch.from_numpy(np.ascontiguousarray(features, np.float32))).numpy()
        return self.choose(values)

    def probabilities(self, values: np.ndarray) -> np.ndarray:
        """Return (N, 32): each action's probability under this policy (no draw)."""
        return action_probabilities(values, self.config)

    def choose(self, values: np.ndarray) -> Inference:
        """Pick actions for (N, 32) values."""
        n = values.shape[0]
        probs = _softmax(values, self.config.temperature)
        greedy = values.argmax(axis=1)
        confidence = probs[np.arange(n), greedy]
        if self.config.mode == "epsilon":
            eps = self.config.epsilon
            explore = self.rng.random(n) < eps
            actions = np.where(explore, self.rng.integers(0, N_ACTIONS, n), greedy)
            propensity = np.where(actions == greedy, 1.0 - eps + eps / N_ACTIONS, eps / N_ACTIONS)
        else:
            cumulative = probs.cumsum(axis=1)
            draws = self.rng.random((n, 1))
            actions = np.minimum((cumulative < draws).sum(axis=1), N_ACTIONS - 1)
            propensity = probs[np.arange(n), actions]
        return Inference(actions.astype(np.int64), confidence, propensity, values)


class RandomPolicy:
    """Uniformly random actions: the floor of the learning room."""

    def __init__(self, seed: int = 0) -> None:
        """Seed the policy's generator."""
        self.rng = np.random.default_rng(seed)

    def act(self, batch: TerritoryBatch) -> np.ndarray:
        """Return (N,) random joint actions."""
        return self.rng.integers(0, N_ACTIONS, len(batch)).astype(np.int64)


class OraclePolicy:
    """The best expected action under the true rules, or WAIT when nothing beats waiting."""

    def act(self, batch: TerritoryBatch, rules: RuleSet) -> tuple[np.ndarray, np.ndarray]:
        """Return ((N,) joint actions, (N,) send) maximizing the expected reward."""
        table = expected_rewards_all(batch, rules)
        best = table[:, :N_ACTIONS].argmax(axis=1)
        send = table[np.arange(len(batch)), best] > table[:, N_ACTIONS]
        return best.astype(np.int64), send
