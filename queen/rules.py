"""The game's rules: what each spawn type costs and does. Two rule sets; patch day switches them.

Indices: spawn types in SPAWN_TYPES order; a joint action is `spawn_chunk * N_TYPES + type`.
Standard library and numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_CHUNKS = 8
SPAWN_TYPES = ("WORKER", "SOLDIER", "SCOUT", "GUARD")
N_TYPES = len(SPAWN_TYPES)
N_ACTIONS = N_CHUNKS * N_TYPES
WORKER, SOLDIER, SCOUT, GUARD = range(N_TYPES)

THREAT_DECAY = 0.4  # share of a chunk's threat left after a tick (before arrivals)
ARRIVAL_PROB = 0.35  # chance a chunk receives a new threat in a tick
ARRIVAL_MAX = 0.8  # new threat ~ U(0, ARRIVAL_MAX); a chunk's threat saturates at 1
LOSS_RATE = 0.25  # chance per tick a unit dies, per unit of its chunk's threat
BASE_INCOME = 4.0  # resources per tick with no workers
HEALTH_REGEN = 0.03  # base health regained per tick
HEALTH_DAMAGE = 0.12  # base health lost per tick per unit of mean threat
MAX_UNITS = 60  # a territory holds at most this many units; spawns beyond are unaffordable


@dataclass(frozen=True)
class RuleSet:
    """One version of the rules: per spawn type, in SPAWN_TYPES order."""

    version: int
    cost: tuple[float, float, float, float]  # resources paid to spawn
    upkeep: tuple[float, float, float, float]  # resources per tick per unit alive
    kill: tuple[float, float, float, float]  # share of the chunk's threat removed on spawn
    harvest: tuple[float, float, float, float]  # resources gained on spawn, x (1 - chunk threat)
    income: tuple[float, float, float, float]  # income added per tick per unit alive
    heal: tuple[float, float, float, float]  # base health restored on spawn

    def array(self, name: str) -> np.ndarray:
        """Return a per-type field as a float64 array of shape (N_TYPES,)."""
        return np.asarray(getattr(self, name), dtype=np.float64)


RULES_V1 = RuleSet(
    version=1,
    cost=(4.0, 10.0, 3.0, 12.0),
    upkeep=(0.05, 0.15, 0.05, 0.2),
    kill=(0.0, 0.85, 0.3, 0.35),
    harvest=(8.0, 0.0, 2.0, 0.0),
    income=(0.3, 0.0, 0.0, 0.0),
    heal=(0.0, 0.0, 0.0, 0.08),
)

# Patch day: soldiers nerfed, guards and scouts buffed, workers harvest less.
RULES_V2 = RuleSet(
    version=2,
    cost=(4.0, 10.0, 3.0, 8.0),
    upkeep=(0.05, 0.15, 0.05, 0.2),
    kill=(0.0, 0.2, 0.6, 0.9),
    harvest=(5.0, 0.0, 2.0, 0.0),
    income=(0.3, 0.0, 0.0, 0.0),
    heal=(0.0, 0.0, 0.0, 0.1),
)

RULE_SETS = {RULES_V1.version: RULES_V1, RULES_V2.version: RULES_V2}


def split_action(action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (spawn_chunk, spawn_type) arrays of joint action indices."""
    action = np.asarray(action)
    return action // N_TYPES, action % N_TYPES


def join_action(chunk: np.ndarray | int, spawn_type: np.ndarray | int) -> np.ndarray:
    """Return the joint action index of (spawn_chunk, spawn_type)."""
    return np.asarray(chunk) * N_TYPES + np.asarray(spawn_type)
