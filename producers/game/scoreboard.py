"""How good the served decisions were, beside the simulated world's random and oracle policies.

Only a simulator can say this: it knows the exact expected reward of every action in every
state (`queen.dynamics.expected_rewards_all`). Per tick, on the state the decisions were made
for, under the rules in force: the expected reward of what the game applied (the served policy
through the gate), of a uniformly random action always sent (the floor), and of the best action
or WAIT (the oracle, the ceiling). The share of the oracle − random gap the served policy
holds is the learning figure `make run` shows and `trainer.curves` measures offline; a real
game has no oracle, so it has only the realized reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queen.dynamics import expected_rewards, expected_rewards_all
from queen.rules import N_ACTIONS, RuleSet
from queen.state import TerritoryBatch

MIN_GAP = 1e-9  # below this the gap is empty and the share undefined


@dataclass(frozen=True)
class TickScore:
    """Mean expected reward per territory of one tick: served, random, oracle."""

    served: float
    random: float
    oracle: float

    @property
    def share(self) -> float | None:
        """(served − random) / (oracle − random), or None when the gap is empty."""
        gap = self.oracle - self.random
        return (self.served - self.random) / gap if gap > MIN_GAP else None


def score_tick(
    before: TerritoryBatch, action: np.ndarray, send: np.ndarray, rules: RuleSet
) -> TickScore:
    """Score the `action`s the game applied (`send`: sent at all) on the state `before`."""
    table = expected_rewards_all(before, rules)
    served = expected_rewards(before, np.asarray(action), np.asarray(send, dtype=bool), rules)
    oracle = np.maximum(table[:, :N_ACTIONS].max(axis=1), table[:, N_ACTIONS])
    return TickScore(
        served=float(served.mean()),
        random=float(table[:, :N_ACTIONS].mean()),
        oracle=float(oracle.mean()),
    )
