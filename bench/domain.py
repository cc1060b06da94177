"""Domain benchmark (printed, never asserted): world ticks, features, QueenNN inference, gate.

    .venv/bin/python bench/domain.py

Each figure is the median of several timed runs on this machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from queen.features import extract_features
from queen.gate import SimulationGate
from queen.model import initial_model
from queen.policy import ExplorationPolicy
from queen.rules import N_ACTIONS, RULES_V1
from queen.world import World, WorldConfig


def _features(world: World) -> object:
    return extract_features(world.observe())


def median_seconds(fn: Callable[[], object], repeats: int = 7) -> float:
    """Median wall time of `fn` over `repeats` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the figures."""
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} threads {torch.get_num_threads()}"
    )
    print(f"{'territories':>12}{'tick ms':>10}{'ticks/s':>10}{'features/s':>14}")
    for n in (64, 10_000, 100_000):
        world = World(WorldConfig(n, seed=0))
        action = np.random.default_rng(0).integers(0, N_ACTIONS, n)
        send = np.ones(n, dtype=bool)
        tick = median_seconds(partial(world.step, action, send))
        feats = median_seconds(partial(_features, world))
        print(f"{n:>12}{tick * 1e3:>10.2f}{1 / tick:>10.0f}{n / feats:>14.0f}")

    model, policy = initial_model(0), ExplorationPolicy(seed=0)
    gate = SimulationGate(RULES_V1)
    world = World(WorldConfig(10_000, seed=1))
    features = extract_features(world.observe())
    print(f"{'batch':>12}{'infer µs/sample':>18}{'gate µs/decision':>18}")
    for batch in (1, 32, 256, 4096):
        f = features[:batch]
        infer = median_seconds(partial(policy.infer, model, f))
        actions = policy.infer(model, f).actions
        judge = median_seconds(partial(gate.evaluate, f, actions))
        print(f"{batch:>12}{infer / batch * 1e6:>18.2f}{judge / batch * 1e6:>18.2f}")


if __name__ == "__main__":
    main()
