"""The territory world: N territories ticking every 15 s of game time, vectorized and seeded.

Each tick the world applies the actions the gate SENT (and the territory can afford), then the
random part happens: new threats arrive in chunks, and units die in threatened chunks. Rules
switch at `rule_switch_tick` (patch day). Territories are matches: with `match_churn` > 0,
after each tick every match ends with that chance and a new one, with a new territory id and
seq 0, takes its row (the number of rows stays; the ids come and go, and only the simulator
ever numbers them). The world does not compute rewards: the game feeds
observations before/after a tick to the RewardCalculator, exactly as the real game would.
numpy only; same seed, same trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queen.dynamics import apply_action
from queen.rules import (
    ARRIVAL_MAX,
    ARRIVAL_PROB,
    BASE_INCOME,
    LOSS_RATE,
    N_CHUNKS,
    N_TYPES,
    RULES_V1,
    RULES_V2,
    SCOUT,
    SOLDIER,
    THREAT_DECAY,
    WORKER,
    RuleSet,
)
from queen.state import TerritoryBatch

TICK_SECONDS = 15.0
RETIRE_RATE = 0.05  # chance per tick a unit leaves the territory (keeps unit counts bounded)
LOSS_ORDER = (WORKER, SCOUT, SOLDIER, 3)  # units die in this type order


@dataclass(frozen=True)
class WorldConfig:
    """Size, seed and patch day of a world."""

    n_territories: int = 64
    seed: int = 0
    rule_switch_tick: int | None = None  # tick from which RULES_V2 apply (None: never)
    rules_before: RuleSet = RULES_V1
    rules_after: RuleSet = RULES_V2
    match_churn: float = 0.0  # chance per tick that a territory's match ends and a new one starts

    def __post_init__(self) -> None:
        """Validate the values."""
        if self.n_territories < 1:
            raise ValueError(f"n_territories={self.n_territories!r}: must be >= 1")
        if not 0.0 <= self.match_churn <= 1.0:
            raise ValueError(f"match_churn={self.match_churn!r}: must be in [0, 1]")
        if self.rule_switch_tick is not None and self.rule_switch_tick < 0:
            raise ValueError(f"rule_switch_tick={self.rule_switch_tick!r}: must be >= 0")


@dataclass(frozen=True)
class StepResult:
    """One tick: the state before, the state after, which actions applied, under which rules."""

    before: TerritoryBatch
    after: TerritoryBatch
    applied: np.ndarray  # (N,) bool
    rules_version: int


class World:
    """All territories' state, advanced one tick at a time."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        """Create the initial state from the config's seed."""
        self.config = config or WorldConfig()
        self.rng = np.random.default_rng(self.config.seed)
        n = self.config.n_territories
        self.tick = 0
        self.state = fresh_territories(self.rng, np.arange(n, dtype=np.int64))
        self.next_territory = n  # the index of the next match to start
        # Its own stream: a world without churn plays exactly as it did before churn existed.
        self.churn_rng = np.random.default_rng([self.config.seed, 1])

    @property
    def rules(self) -> RuleSet:
        """The rules in force at the current tick."""
        switch = self.config.rule_switch_tick
        return (
            self.config.rules_after
            if switch is not None and self.tick >= switch
            else (self.config.rules_before)
        )

    def observe(self) -> TerritoryBatch:
        """Return the current raw state of every territory."""
        return self.state

    def step(self, action: np.ndarray, send: np.ndarray) -> StepResult:
        """Advance one tick; `action` (N,) joint indices (-1: none), `send` (N,) bool."""
        rules = self.rules
        before = self.state
        after = apply_action(before, np.asarray(action), np.asarray(send, dtype=bool), rules)
        n = len(before)
        arrivals = (self.rng.random((n, N_CHUNKS)) < ARRIVAL_PROB) * self.rng.uniform(
            0, ARRIVAL_MAX, (n, N_CHUNKS)
        )
        lost_per_chunk = self.rng.binomial(after.chunk_units, LOSS_RATE * after.chunk_threat)
        lost = lost_per_chunk.sum(axis=1)
        chunk_units = after.chunk_units - lost_per_chunk
        retired_per_chunk = self.rng.binomial(chunk_units, RETIRE_RATE)
        chunk_units -= retired_per_chunk
        unit_counts = _remove_units(after.unit_counts, lost + retired_per_chunk.sum(axis=1))
        self.tick += 1
        next_rules = self.rules
        decayed = THREAT_DECAY * after.chunk_threat
        threat = np.minimum(decayed + arrivals, 1.0)
        self.state = TerritoryBatch(
            territory=before.territory,
            seq=before.seq + 1,
            resources=after.resources,
            income=BASE_INCOME + unit_counts @ next_rules.array("income"),
            upkeep=unit_counts @ next_rules.array("upkeep"),
            base_health=after.base_health,
            units_lost=lost.astype(np.int64),
            chunk_threat=threat,
            chunk_units=chunk_units,
            unit_counts=unit_counts,
            new_threat=threat - decayed,
        )
        result = StepResult(before, self.state, after.applied, rules.version)
        if self.config.match_churn > 0:
            self._churn()
        return result

    def _churn(self) -> None:
        """End some matches; start a new one, with a new id, in each row freed."""
        ended = np.flatnonzero(self.churn_rng.random(len(self.state)) < self.config.match_churn)
        if len(ended) == 0:
            return
        ids = np.arange(self.next_territory, self.next_territory + len(ended), dtype=np.int64)
        self.next_territory += len(ended)
        started = fresh_territories(self.churn_rng, ids)
        arrays = {}
        for name, values in self.state.__dict__.items():
            values = values.copy()
            values[ended] = getattr(started, name)
            arrays[name] = values
        self.state = TerritoryBatch(**arrays)


def fresh_territories(rng: np.random.Generator, ids: np.ndarray) -> TerritoryBatch:
    """New matches `ids` at seq 0: some threat, resources, health; no units."""
    n = len(ids)
    threat = rng.uniform(0, 1, (n, N_CHUNKS)) * (rng.random((n, N_CHUNKS)) < 0.4)
    return TerritoryBatch(
        territory=ids,
        seq=np.zeros(n, dtype=np.int64),
        resources=rng.uniform(10, 60, n),
        income=np.full(n, BASE_INCOME),
        upkeep=np.zeros(n),
        base_health=rng.uniform(0.5, 1.0, n),
        units_lost=np.zeros(n, dtype=np.int64),
        chunk_threat=threat,
        chunk_units=np.zeros((n, N_CHUNKS), dtype=np.int64),
        unit_counts=np.zeros((n, N_TYPES), dtype=np.int64),
        new_threat=np.zeros((n, N_CHUNKS)),
    )


def _remove_units(unit_counts: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Remove `count` units per territory from the types, in LOSS_ORDER."""
    out = unit_counts.copy()
    remaining = count.copy()
    for kind in LOSS_ORDER:
        take = np.minimum(out[:, kind], remaining)
        out[:, kind] -= take
        remaining -= take
    return out
