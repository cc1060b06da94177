"""Off-policy evaluation benchmark (printed, never asserted): one window, every step timed.

    .venv/bin/python -m bench.ope [rows]        (default 5,000 rows)

The promoter's work per candidate on a window: the candidate's values (QueenNN), its target
probabilities, the gate's expected reward of every action (the direct-method model, shared by
every candidate), and each estimator. Each figure is the median of several timed runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial

import numpy as np

from bench.domain import median_seconds
from queen.features import extract_features
from queen.gate import expected_table
from queen.model import initial_model
from queen.ope import Logged, doubly_robust, expected_effective_n, ips, snips
from queen.policy import ExplorationConfig, ExplorationPolicy, action_probabilities
from queen.rules import N_ACTIONS, RULES_V1
from queen.world import World, WorldConfig


def main(rows: int = 5_000) -> None:
    """Print the figures for a window of `rows` logged decisions."""
    features = extract_features(World(WorldConfig(rows, seed=1)).observe())
    config = ExplorationConfig()
    served = ExplorationPolicy(config, seed=2).infer(initial_model(0), features)
    logged = Logged(served.actions, served.propensity, np.random.default_rng(3).normal(size=rows))
    candidate = ExplorationPolicy(config, seed=4)
    values = candidate.infer(initial_model(1), features).values
    target = action_probabilities(values, config)
    logging = action_probabilities(served.values, config)
    q = expected_table(features, RULES_V1)
    assert q.shape == (rows, N_ACTIONS)
    steps: dict[str, Callable[[], object]] = {
        "candidate values (QueenNN)": partial(candidate.infer, initial_model(1), features),
        "target probabilities": partial(action_probabilities, values, config),
        "gate expected table (q)": partial(expected_table, features, RULES_V1),
        "ips": partial(ips, logged, target),
        "snips": partial(snips, logged, target),
        "doubly robust": partial(doubly_robust, logged, target, q),
        "expected effective n": partial(expected_effective_n, target, logging),
    }
    print(f"window of {rows} rows")
    print(f"{'step':>28}{'ms':>10}")
    for name, step in steps.items():
        print(f"{name:>28}{median_seconds(step) * 1e3:>10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
