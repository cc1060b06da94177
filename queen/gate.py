"""The simulation gate: SEND or WAIT for each decision, by the action's expected reward.

The gate simulates the action under the rules it knows (the expected outcome, not the noise):
it SENDs when the action is affordable and its expected reward beats waiting by at least
`threshold`. It works from the 28 features alone (the state is rebuilt from them), so the
trainer can re-validate logged decisions. When the rules change, a gate built on the new rules
disagrees with decisions judged under the old ones: that disagreement is the drift signal.
numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queen.dynamics import NO_ACTION, affordable, expected_rewards
from queen.features import state_from_features
from queen.rules import N_ACTIONS, RuleSet


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict for a batch."""

    send: np.ndarray  # (N,) bool
    expected_reward: np.ndarray  # (N,) expected reward of the action if sent
    gate_version: str


class SimulationGate:
    """Judges actions by simulating their expected outcome under `rules`."""

    def __init__(self, rules: RuleSet, threshold: float = 0.0, min_confidence: float = 0.0) -> None:
        """Build a gate; `threshold` is the expected gain over waiting required to SEND."""
        self.rules = rules
        self.threshold = threshold
        self.min_confidence = min_confidence
        self.gate_version = f"gate-r{rules.version}-t{threshold:g}"

    def follow(self, rules: RuleSet) -> SimulationGate:
        """Return a gate with the same settings on new rules (patch day)."""
        return SimulationGate(rules, self.threshold, self.min_confidence)

    def evaluate(
        self, features: np.ndarray, action: np.ndarray, confidence: np.ndarray | None = None
    ) -> GateResult:
        """Judge (N,) joint actions taken on (N, 28) features."""
        state = state_from_features(features)
        action = np.asarray(action, dtype=np.int64)
        n = len(state)
        send_all = np.ones(n, dtype=bool)
        value = expected_rewards(state, action, send_all, self.rules)
        wait = expected_rewards(state, np.full(n, NO_ACTION), ~send_all, self.rules)
        send = affordable(state, action, self.rules) & (value - wait >= self.threshold)
        if confidence is not None:
            send &= np.asarray(confidence) >= self.min_confidence
        return GateResult(send, value, self.gate_version)


def expected_table(features: np.ndarray, rules: RuleSet) -> np.ndarray:
    """Return (n, N_ACTIONS): the exact expected reward of sending each action under `rules`.

    The gate's expectation of every action from the features alone: the trainer's targets of
    the actions not taken, and the direct-method model of off-policy evaluation (queen/ope.py).
    One call per action on the whole batch (faster than one call on n × N_ACTIONS copies of
    the state: 2.6 instead of 4.2 ms for 320 rows).
    """
    state = state_from_features(features)
    n = len(state)
    send = np.ones(n, dtype=bool)
    out = np.empty((n, N_ACTIONS))
    for action in range(N_ACTIONS):
        out[:, action] = expected_rewards(state, np.full(n, action), send, rules)
    return out
