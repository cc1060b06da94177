"""Learning, shown: the continuous loop against the seed's coupled loop, in game time.

    python -m trainer.curves [--ticks 300] [--territories 64] [--switch-tick 150] [--out DIR]

The loop's components run in one process on a simulated clock, so hours of game time take
seconds: the world ticks every 15 s of game time; inference serves the latest version (hot-load
takes milliseconds, so a version is served from the next tick); experiences join one tick later;
the trainer steps every `training_interval` of game time (15 steps per tick at the default 1 s)
on batches from the replay buffer, re-validated by the gate. The coupled loop is the seed's: one
SGD step on a single sample per observation, inline. Both are compared with the random and
oracle policies on the same world (same seed). Writes curves.json and prints the figures:
share of the oracle − random gap reached, game minutes to 80% of it, recovery after patch day.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from queen.baselines import run_coupled as coupled_rewards
from queen.baselines import run_oracle, run_random
from queen.dynamics import expected_rewards_all
from queen.features import extract_features
from queen.gate import SimulationGate
from queen.model import QueenNN, initial_model
from queen.policy import ExplorationPolicy, OraclePolicy
from queen.reward import RewardCalculator
from queen.rules import N_ACTIONS, RuleSet
from queen.world import TICK_SECONDS, World, WorldConfig
from trainer.buffer.buffer import make_buffer
from trainer.learner import Learner
from trainer.settings import ContinuousTrainingConfig


@dataclass
class Curve:
    """Per tick: realized mean reward, share of the gap (noise-free), gate agreement."""

    reward: list[float] = field(default_factory=list)
    share: list[float] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)


class Evaluator:
    """Scores a model's greedy, gated policy on fixed states by the exact expected reward.

    The share of the gap is (policy − random) / (oracle − random) on the same states under the
    rules in force: free of the game's noise, so learning speed can be read off one run.
    """

    def __init__(self, config: WorldConfig, states: int = 2048, warmup: int = 20) -> None:
        """Collect `states` visited states from random play."""
        world = World(WorldConfig(states, config.seed + 100))
        rng = np.random.default_rng(config.seed + 101)
        for _ in range(warmup):
            world.step(rng.integers(0, N_ACTIONS, states), np.ones(states, dtype=bool))
        self.batch = world.observe()
        self.features = extract_features(self.batch)
        self.levels: dict[int, tuple[float, float, np.ndarray]] = {}

    def _levels(self, rules: RuleSet) -> tuple[float, float, np.ndarray]:
        if rules.version not in self.levels:
            table = expected_rewards_all(self.batch, rules)
            action, send = OraclePolicy().act(self.batch, rules)
            rows = np.arange(len(action))
            oracle = np.where(send, table[rows, action], table[:, N_ACTIONS]).mean()
            self.levels[rules.version] = (float(table[:, :N_ACTIONS].mean()), float(oracle), table)
        return self.levels[rules.version]

    def share(self, model: QueenNN, rules: RuleSet) -> float:
        """Share of the oracle − random gap the model's greedy gated policy reaches."""
        random_level, oracle_level, table = self._levels(rules)
        with torch.inference_mode():
            values = model(torch.from_numpy(self.features)).numpy()
        action = values.argmax(axis=1)
        send = SimulationGate(rules).evaluate(self.features, action).send
        rows = np.arange(len(action))
        level = np.where(send, table[rows, action], table[:, N_ACTIONS]).mean()
        return float((level - random_level) / (oracle_level - random_level))


def run_continuous(
    config: WorldConfig, ticks: int, training: ContinuousTrainingConfig, evaluator: Evaluator
) -> Curve:
    """The continuous loop on a simulated clock."""
    world, calc, curve = World(config), RewardCalculator(), Curve()
    policy = ExplorationPolicy(seed=config.seed + 2)
    learner = Learner(initial_model(training.seed), training)
    buffer = make_buffer(training, config.seed)
    steps_per_tick = int(TICK_SECONDS / training.training_interval)
    trainer_gate = SimulationGate(world.rules)
    next_id = 0
    for _ in range(ticks):
        batch = world.observe()
        features = extract_features(batch)
        served = learner.version
        decision = policy.infer(learner.model, features)
        gate = SimulationGate(world.rules)
        verdict = gate.evaluate(features, decision.actions, decision.confidence)
        result = world.step(decision.actions, verdict.send)
        reward = calc.calculate_batch(
            result.before, result.after, decision.actions, result.applied, result.rules_version
        ).total
        curve.reward.append(float(reward.mean()))
        event_time = int(world.tick * TICK_SECONDS * 1000)
        for i in range(len(reward)):  # the joined experiences of this tick
            buffer.writer.add(
                {
                    "features": features[i],
                    "action": decision.actions[i],
                    "reward": reward[i],
                    "expected_reward": verdict.expected_reward[i],
                    "gate_send": verdict.send[i],
                    "propensity": decision.propensity[i],
                    "model_version": served,
                    "rules_version": result.rules_version,
                    "event_time": event_time,
                    "completed": True,
                    "decision_id": str(next_id),
                }
            )
            next_id += 1
        if result.rules_version != trainer_gate.rules.version:
            trainer_gate = SimulationGate(world.rules)  # the gate follows the newest rules seen
        agreements = []
        for _ in range(steps_per_tick):
            sample = buffer.sample(training.batch_size, learner.version)
            if sample is None:
                break
            outcome = learner.step(sample, trainer_gate)
            if outcome is not None:
                buffer.first_use(outcome.indices)  # as the service does when it publishes
                agreements.append(outcome.gate_agreement)
        curve.agreement.append(float(np.mean(agreements)) if agreements else float("nan"))
        curve.versions.append(learner.version)
        curve.share.append(evaluator.share(learner.model, world.rules))
    return curve


def run_coupled(config: WorldConfig, ticks: int, lr: float, evaluator: Evaluator) -> Curve:
    """The seed's coupled loop (queen.baselines), scored by `evaluator` after every tick."""
    curve = Curve()

    def score(model: QueenNN, world: World) -> None:
        curve.share.append(evaluator.share(model, world.rules))

    curve.reward = coupled_rewards(config, ticks, lr, score).tolist()
    return curve


def first_tick_at(share: Sequence[float], level: float, start: int = 0) -> int | None:
    """First tick (from `start`) whose share of the gap reaches `level`, held for 5 ticks."""
    v = np.asarray(share)
    for t in range(start, len(v) - 4):
        if (v[t : t + 5] >= level).all():
            return t
    return None


LEVELS = (0.5, 0.7, 0.8)  # shares of the oracle − random gap reported


def _minutes(tick: int | None, minute: float) -> float | None:
    return None if tick is None else (tick + 1) * minute


def figures(curves: dict[str, list[float]], switch: int | None) -> dict[str, object]:
    """Share of the gap reached, game minutes to 80% of it, recovery after patch day.

    Without a switch each curve is read to its own end (the runs may differ in length).
    """
    minute = TICK_SECONDS / 60
    out: dict[str, object] = {}
    for name in ("continuous", "coupled"):
        share = curves[f"{name}_share"]
        end = switch if switch is not None else len(share)
        entry: dict[str, float | None] = {
            "share_of_gap_before_switch": float(np.mean(share[max(0, end - 20) : end])),
            "realized_reward_last_20_ticks": float(np.mean(curves[name][max(0, end - 20) : end])),
        }
        for level in LEVELS:
            tick = first_tick_at(share[:end], level)
            entry[f"game_minutes_to_{int(level * 100)}pct"] = _minutes(tick, minute)
        if switch is not None:
            entry["share_right_after_switch"] = float(share[switch])
            for level in LEVELS:
                back = first_tick_at(share, level, switch)
                entry[f"recovery_game_minutes_to_{int(level * 100)}pct"] = _minutes(
                    None if back is None else back - switch, minute
                )
            entry["share_at_end"] = float(np.mean(share[-20:]))
        out[name] = entry
    end = switch if switch is not None else len(curves["random"])
    out["realized_reward_random"] = float(np.mean(curves["random"][:end]))
    out["realized_reward_oracle"] = float(np.mean(curves["oracle"][:end]))
    if switch is not None:
        agreement = np.asarray(curves["gate_agreement"], dtype=np.float64)
        out["gate_agreement_before_switch"] = float(np.nanmean(agreement[switch - 10 : switch]))
        out["gate_agreement_min_after_switch"] = float(np.nanmin(agreement[switch:]))
        recovered = np.flatnonzero(agreement[switch:] >= 0.99)
        out["gate_agreement_recovery_game_minutes"] = (
            None if len(recovered) == 0 else float(recovered[0] + 1) * minute
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run every policy on the same world and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=240)
    parser.add_argument("--territories", type=int, default=64)
    parser.add_argument("--switch-tick", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--coupled-lr", type=float, default=0.001)
    parser.add_argument("--out", default="var/curves")
    args = parser.parse_args(argv)
    config = WorldConfig(args.territories, args.seed, args.switch_tick)
    evaluator = Evaluator(config)
    continuous = run_continuous(config, args.ticks, ContinuousTrainingConfig(), evaluator)
    coupled = run_coupled(config, args.ticks, args.coupled_lr, evaluator)
    curves = {
        "random": run_random(config, args.ticks).tolist(),
        "oracle": run_oracle(config, args.ticks).tolist(),
        "continuous": continuous.reward,
        "coupled": coupled.reward,
        "continuous_share": continuous.share,
        "coupled_share": coupled.share,
        "gate_agreement": continuous.agreement,
        "continuous_versions": continuous.versions,
    }
    report = figures(curves, args.switch_tick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves.json").write_text(json.dumps({"figures": report, "curves": curves}, indent=1))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
