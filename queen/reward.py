"""The reward of a tick, computed from the observations before and after it, by component.

Components (all documented in docs/reward.md) add up to the total exactly:
- threat:   threat left standing in the chunks after the tick (their sum, not counting the
            threat that newly arrived during it, which no action could affect), x -1.5
- economy:  resources gained before spending (harvest + income - upkeep), x 0.02
- spending: resources paid for the spawn, x -0.02
- losses:   units lost during the tick, x -0.3
- health:   base health missing after the tick (1 - base_health), x -1.0
Levels, not differences, for threat and health: a difference telescopes over a game, so
clearing a threat would be worth nothing in the long run.
numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from queen.rules import RULE_SETS, split_action

REWARD_WEIGHTS = {"threat": 1.5, "economy": 0.02, "losses": 0.3, "health": 1.0}
COMPONENTS = ("threat", "economy", "spending", "losses", "health")


@dataclass(frozen=True)
class RewardBreakdown:
    """A reward and its components; `components[name]` arrays add up to `total`."""

    total: np.ndarray
    components: dict[str, np.ndarray]

    def row(self, i: int) -> tuple[float, dict[str, float]]:
        """Return (total, components) of row `i` as plain floats."""
        return float(self.total[i]), {k: float(v[i]) for k, v in self.components.items()}


class RewardCalculator:
    """Reward of the decision made at `prev`, observed at `obs` (one tick later)."""

    def calculate_batch(
        self,
        prev: Any,
        obs: Any,
        action: np.ndarray,
        applied: np.ndarray,
        rules_version: np.ndarray | int,
    ) -> RewardBreakdown:
        """Rewards for N territories: TerritoryBatches before/after, (N,) actions applied."""
        w = REWARD_WEIGHTS
        versions = np.broadcast_to(np.asarray(rules_version), applied.shape)
        cost = np.zeros(applied.shape)
        _, kind = split_action(np.maximum(action, 0))
        for version, rules in RULE_SETS.items():
            here = applied & (versions == version)
            cost[here] = rules.array("cost")[kind[here]]
        spent = w["economy"] * cost
        components = {
            "threat": -w["threat"] * (obs.chunk_threat - obs.new_threat).sum(axis=1),
            "economy": w["economy"] * (obs.resources - prev.resources) + spent,
            "spending": -spent,
            "losses": -w["losses"] * obs.units_lost.astype(np.float64),
            "health": -w["health"] * (1.0 - obs.base_health),
        }
        total = components["threat"].copy()
        for name in COMPONENTS[1:]:
            total += components[name]
        return RewardBreakdown(total, components)

    def calculate(self, prev: Any, obs: Any, decision: Any) -> tuple[float, dict[str, float]]:
        """The seed's signature for one territory: raw observations and the decision.

        `decision` needs `action` (joint index, or -1), `applied` (bool) and `rules_version`.
        """
        from queen.state import TerritoryBatch

        before, after = TerritoryBatch.from_rows([prev]), TerritoryBatch.from_rows([obs])
        result = self.calculate_batch(
            before,
            after,
            np.array([decision.action]),
            np.array([decision.applied]),
            decision.rules_version,
        )
        return result.row(0)
