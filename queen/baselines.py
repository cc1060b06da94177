"""Baselines: mean reward per tick of reference policies on the simulated world.

    python -m queen.baselines [--ticks K] [--seeds S] [--territories N] [--switch-tick T]

Policies:
- random:          a uniformly random action, always sent (applied when affordable).
- gate-only:       a uniformly random action, sent only when the simulation gate says SEND;
                   what the gate alone adds, with no learning.
- oracle:          the best expected action under the true rules (WAIT when none beats
                   waiting); the ceiling.
- coupled learner: the seed's old loop: QueenNN, epsilon-greedy, gate; after each tick one SGD
                   step on a single sample per observation, inline.
The oracle − random gap is the room for learning; the table reports it against the spread
over seeds. numpy and torch only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import numpy as np
import torch

from queen.features import extract_features
from queen.gate import SimulationGate
from queen.model import QueenNN, initial_model, regression_loss
from queen.policy import ExplorationPolicy, OraclePolicy, RandomPolicy
from queen.reward import RewardCalculator
from queen.world import World, WorldConfig

Runner = Callable[[WorldConfig, int], np.ndarray]


def run_random(config: WorldConfig, ticks: int) -> np.ndarray:
    """Mean reward per tick of the random policy."""
    world, policy, calc = World(config), RandomPolicy(config.seed + 1), RewardCalculator()
    out = np.empty(ticks)
    for t in range(ticks):
        action = policy.act(world.observe())
        result = world.step(action, np.ones(len(action), dtype=bool))
        out[t] = _mean_reward(calc, result, action)
    return out


def run_gate_only(config: WorldConfig, ticks: int) -> np.ndarray:
    """Mean reward per tick of random proposals filtered by the gate."""
    world, policy, calc = World(config), RandomPolicy(config.seed + 1), RewardCalculator()
    out = np.empty(ticks)
    for t in range(ticks):
        batch = world.observe()
        action = policy.act(batch)
        gate = SimulationGate(world.rules)
        send = gate.evaluate(extract_features(batch), action).send
        out[t] = _mean_reward(calc, world.step(action, send), action)
    return out


def run_oracle(config: WorldConfig, ticks: int) -> np.ndarray:
    """Mean reward per tick of the oracle."""
    world, oracle, calc = World(config), OraclePolicy(), RewardCalculator()
    out = np.empty(ticks)
    for t in range(ticks):
        action, send = oracle.act(world.observe(), world.rules)
        out[t] = _mean_reward(calc, world.step(action, send), action)
    return out


def run_coupled(
    config: WorldConfig,
    ticks: int,
    lr: float = 0.001,
    on_tick: Callable[[QueenNN, World], None] | None = None,
) -> np.ndarray:
    """Mean reward per tick of the seed's coupled single-sample learner.

    `on_tick(model, world)` is called after each tick's training (for measurements).
    """
    world, calc = World(config), RewardCalculator()
    model = initial_model(config.seed)
    policy = ExplorationPolicy(seed=config.seed + 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    out = np.empty(ticks)
    for t in range(ticks):
        batch = world.observe()
        features = extract_features(batch)
        decision = policy.infer(model, features)
        send = SimulationGate(world.rules).evaluate(features, decision.actions).send
        result = world.step(decision.actions, send)
        rewards = calc.calculate_batch(
            result.before, result.after, decision.actions, result.applied, result.rules_version
        ).total
        out[t] = rewards.mean()
        model.train()
        for i in range(len(rewards)):  # one step on one sample per observation, as the seed did
            loss, _ = regression_loss(
                model,
                torch.from_numpy(features[i : i + 1]),
                torch.from_numpy(decision.actions[i : i + 1]),
                torch.tensor([rewards[i]], dtype=torch.float32),
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        if on_tick is not None:
            on_tick(model, world)
    return out


def _mean_reward(calc: RewardCalculator, result: object, action: np.ndarray) -> float:
    r = calc.calculate_batch(
        result.before,  # type: ignore[attr-defined]
        result.after,  # type: ignore[attr-defined]
        action,
        result.applied,  # type: ignore[attr-defined]
        result.rules_version,  # type: ignore[attr-defined]
    )
    return float(r.total.mean())


POLICIES: dict[str, Runner] = {
    "random": run_random,
    "gate-only": run_gate_only,
    "oracle": run_oracle,
    "coupled learner": run_coupled,
}


def table(
    ticks: int, seeds: int, territories: int, switch_tick: int | None
) -> dict[str, np.ndarray]:
    """Return, per policy, the mean reward per tick of each seed's run."""
    return {
        name: np.array(
            [
                run(WorldConfig(territories, seed, switch_tick), ticks).mean()
                for seed in range(seeds)
            ]
        )
        for name, run in POLICIES.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the baseline table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--territories", type=int, default=64)
    parser.add_argument("--switch-tick", type=int, default=None)
    args = parser.parse_args(argv)
    results = table(args.ticks, args.seeds, args.territories, args.switch_tick)
    print(
        f"mean reward per tick, {args.territories} territories, {args.ticks} ticks, "
        f"{args.seeds} seeds (mean ± std over seeds)"
    )
    print(f"{'policy':<18}{'mean':>10}{'± std':>10}")
    for name, values in results.items():
        print(f"{name:<18}{values.mean():>10.4f}{values.std():>10.4f}")
    gap = results["oracle"] - results["random"]
    spread = max(results["oracle"].std(), results["random"].std())
    print(
        f"oracle − random gap: {gap.mean():.4f} ± {gap.std():.4f} "
        f"({gap.mean() / max(spread, 1e-12):.1f}× the larger spread over seeds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
