"""How an action changes a territory, and the reward it is expected to bring.

`apply_action` is the deterministic part of a tick: pay, spawn, clear threat, harvest, heal,
income and upkeep. The world then adds the random part (threat arrivals, unit losses).
`expected_rewards` takes the expectation of that random part exactly, so the simulation gate
and the oracle know the mean outcome of every action without sampling. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queen.reward import REWARD_WEIGHTS
from queen.rules import (
    BASE_INCOME,
    HEALTH_DAMAGE,
    HEALTH_REGEN,
    LOSS_RATE,
    MAX_UNITS,
    N_ACTIONS,
    THREAT_DECAY,
    RuleSet,
    split_action,
)
from queen.state import TerritoryBatch

NO_ACTION = -1


@dataclass(frozen=True)
class AfterAction:
    """A batch's state once the action took effect, before threats arrive and units die."""

    resources: np.ndarray  # (N,) after cost, harvest, income and upkeep
    income: np.ndarray  # (N,)
    upkeep: np.ndarray  # (N,)
    base_health: np.ndarray  # (N,)
    chunk_threat: np.ndarray  # (N, 8) after the spawned unit cleared its share
    chunk_units: np.ndarray  # (N, 8)
    unit_counts: np.ndarray  # (N, 4)
    applied: np.ndarray  # (N,) bool: the action was sent and affordable
    spent: np.ndarray  # (N,) resources paid for the spawn


def affordable(batch: TerritoryBatch, action: np.ndarray, rules: RuleSet) -> np.ndarray:
    """Return (N,) bool: the territory can pay for `action` and has room for a unit."""
    _, kind = split_action(np.maximum(action, 0))
    room = batch.unit_counts.sum(axis=1) < MAX_UNITS
    return (action >= 0) & (batch.resources >= rules.array("cost")[kind]) & room


def apply_action(
    batch: TerritoryBatch, action: np.ndarray, send: np.ndarray, rules: RuleSet
) -> AfterAction:
    """Return the deterministic effect of sending `action` ((N,) joint index, -1 none)."""
    rows = np.arange(len(batch))
    applied = send & affordable(batch, action, rules)
    chunk, kind = split_action(np.maximum(action, 0))
    on = applied.astype(np.float64)
    threat_here = batch.chunk_threat[rows, chunk]

    unit_counts = batch.unit_counts.copy()
    unit_counts[rows, kind] += applied
    chunk_units = batch.chunk_units.copy()
    chunk_units[rows, chunk] += applied
    chunk_threat = batch.chunk_threat.copy()
    chunk_threat[rows, chunk] = threat_here * (1.0 - rules.array("kill")[kind] * on)

    spent = rules.array("cost")[kind] * on
    harvest = rules.array("harvest")[kind] * (1.0 - threat_here) * on
    income = BASE_INCOME + unit_counts @ rules.array("income")
    upkeep = unit_counts @ rules.array("upkeep")
    resources = np.maximum(batch.resources - spent + harvest + income - upkeep, 0.0)
    health = batch.base_health + rules.array("heal")[kind] * on + HEALTH_REGEN
    health = np.clip(health - HEALTH_DAMAGE * chunk_threat.mean(axis=1), 0.0, 1.0)
    return AfterAction(
        resources, income, upkeep, health, chunk_threat, chunk_units, unit_counts, applied, spent
    )


def expected_rewards(
    batch: TerritoryBatch, action: np.ndarray, send: np.ndarray, rules: RuleSet
) -> np.ndarray:
    """Return (N,) the expected reward of sending `action` under `rules` (mean over noise)."""
    after = apply_action(batch, action, send, rules)
    w = REWARD_WEIGHTS
    next_threat = THREAT_DECAY * after.chunk_threat.sum(axis=1)  # new arrivals not counted
    expected_lost = (after.chunk_units * LOSS_RATE * after.chunk_threat).sum(axis=1)
    threat = -w["threat"] * next_threat
    economy = w["economy"] * (after.resources - batch.resources + after.spent)
    spending = -w["economy"] * after.spent
    losses = -w["losses"] * expected_lost
    health = -w["health"] * (1.0 - after.base_health)
    return threat + economy + spending + losses + health


def expected_rewards_all(batch: TerritoryBatch, rules: RuleSet) -> np.ndarray:
    """Return (N, N_ACTIONS + 1): expected reward of each action sent; last column is WAIT."""
    n = len(batch)
    out = np.empty((n, N_ACTIONS + 1))
    send = np.ones(n, dtype=bool)
    for a in range(N_ACTIONS):
        out[:, a] = expected_rewards(batch, np.full(n, a), send, rules)
    out[:, N_ACTIONS] = expected_rewards(batch, np.full(n, NO_ACTION), ~send, rules)
    return out
