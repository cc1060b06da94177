"""Learning, shown: the continuous loop against the seed's coupled loop, in game time.

    python -m trainer.curves [--ticks 400] [--switch-tick 200] [--seeds 0 1 2]
        [--set FIELD=VALUE ...] [--hidden 64] [--no-coupled] [--no-plot] [--out DIR]

The loop's components run in one process on a simulated clock, so hours of game time take
seconds: the world ticks every 15 s of game time; inference serves the latest version (hot-load
takes milliseconds, so a version is served from the next tick); experiences join one tick later;
the trainer steps every `training_interval` of game time (15 steps per tick at 1 s) on batches
from the replay buffer, re-validated by the gate. The coupled loop is the seed's: one SGD step
on a single sample per observation, inline. Both are compared with the random and oracle
policies on the same world (same seed). `--set` overrides a ContinuousTrainingConfig field
(as QUEEN_TRAINER_<FIELD> would). Writes curves.json and share.png (trainer/curve_plots.py)
and prints the figures: share of the oracle − random gap reached,
game minutes to 50/70/80/90% of it, recovery after patch day, the trainer's CPU per tick.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from queen.baselines import run_coupled as coupled_rewards
from queen.baselines import run_oracle, run_random
from queen.dynamics import expected_rewards_all
from queen.features import extract_features
from queen.gate import SimulationGate
from queen.model import HIDDEN, QueenNN, initial_model
from queen.policy import ExplorationPolicy, OraclePolicy
from queen.reward import RewardCalculator
from queen.rules import N_ACTIONS, RuleSet
from queen.world import TICK_SECONDS, World, WorldConfig
from trainer.buffer.buffer import make_buffer
from trainer.learner import Learner
from trainer.settings import ContinuousTrainingConfig


@dataclass
class Curve:
    """Per tick: realized mean reward, share of the gap (noise-free), gate agreement.

    `share[t]` is the model after tick t's training, served from tick t + 1, scored under the
    rules in force at tick t + 1 (so with patch day at tick S, `share[S - 1]` is the first
    scored under the new rules). `train_cpu_s[t]`: the trainer's CPU seconds in tick t.
    """

    reward: list[float] = field(default_factory=list)
    share: list[float] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    train_cpu_s: list[float] = field(default_factory=list)


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
    config: WorldConfig,
    ticks: int,
    training: ContinuousTrainingConfig,
    evaluator: Evaluator,
    hidden: int = HIDDEN,
) -> Curve:
    """The continuous loop on a simulated clock (`hidden`: the model's width, measurements)."""
    world, calc, curve = World(config), RewardCalculator(), Curve()
    policy = ExplorationPolicy(seed=config.seed + 2)
    learner = Learner(initial_model(training.seed, hidden), training)
    buffer = make_buffer(training, config.seed)
    steps_per_tick = steps_in_a_tick(training)
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
        cpu = time.process_time()
        for _ in range(steps_per_tick):
            sample = buffer.sample(training.batch_size * training.updates_per_step, learner.version)
            if sample is None:
                break
            outcome = learner.step(sample, trainer_gate)
            if outcome is not None:
                if training.priority_sampling:
                    buffer.update_priorities(outcome.indices, outcome.errors)
                buffer.first_use(outcome.indices)  # as the service does when it publishes
                agreements.append(outcome.gate_agreement)
        curve.train_cpu_s.append(time.process_time() - cpu)
        curve.agreement.append(float(np.mean(agreements)) if agreements else float("nan"))
        curve.versions.append(learner.version)
        curve.share.append(evaluator.share(learner.model, world.rules))
    return curve


def steps_in_a_tick(training: ContinuousTrainingConfig) -> int:
    """Training steps per 15-s tick of game time at `training_interval` (0: one per 0.1 s)."""
    return int(round(TICK_SECONDS / max(training.training_interval, 0.1)))


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


LEVELS = (0.5, 0.7, 0.8, 0.9)  # shares of the oracle − random gap reported
MINUTE = TICK_SECONDS / 60  # one tick, in game minutes


def _minutes(tick: int | None) -> float | None:
    """Game minutes at which share[tick] is served (share[t] is served from tick t + 1)."""
    return None if tick is None else (tick + 1) * MINUTE


def figures(curves: dict[str, list[float]], switch: int | None) -> dict[str, object]:
    """Share of the gap reached, game minutes to each level, recovery after patch day.

    With patch day at tick S, share[S - 1] is already scored under the new rules: "before
    patch day" reads share[: S - 1], and recovery is searched from share[S - 1] and timed
    from patch day. Without a switch each curve is read to its own end (the runs may differ
    in length). Levels count when held for 5 ticks.
    """
    out: dict[str, object] = {}
    for name in ("continuous", "coupled"):
        if f"{name}_share" not in curves:
            continue
        share = curves[f"{name}_share"]
        end = switch - 1 if switch is not None else len(share)
        reward_end = switch if switch is not None else len(curves[name])
        entry: dict[str, float | None] = {
            "share_of_gap_before_switch": float(np.mean(share[max(0, end - 20) : end])),
            "realized_reward_last_20_ticks": float(
                np.mean(curves[name][max(0, reward_end - 20) : reward_end])
            ),
        }
        for level in LEVELS:
            entry[f"game_minutes_to_{int(level * 100)}pct"] = _minutes(
                first_tick_at(share[:end], level)
            )
        reached = first_tick_at(share[:end], LEVELS[-1])
        entry["min_share_once_90pct_before_switch"] = (
            None if reached is None else float(np.min(share[reached:end]))
        )
        if switch is not None:
            entry["share_right_after_switch"] = float(share[end])
            for level in LEVELS:
                back = first_tick_at(share, level, end)
                entry[f"recovery_game_minutes_to_{int(level * 100)}pct"] = (
                    None if back is None else (back + 1 - switch) * MINUTE
                )
            entry["share_at_end"] = float(np.mean(share[-20:]))
        out[name] = entry
    end = switch if switch is not None else len(curves["random"])
    out["realized_reward_random"] = float(np.mean(curves["random"][:end]))
    out["realized_reward_oracle"] = float(np.mean(curves["oracle"][:end]))
    out["realized_reward_oracle_last_20_ticks"] = float(np.mean(curves["oracle"][end - 20 : end]))
    if switch is not None:
        agreement = np.asarray(curves["gate_agreement"], dtype=np.float64)
        out["gate_agreement_before_switch"] = float(np.nanmean(agreement[switch - 10 : switch]))
        out["gate_agreement_min_after_switch"] = float(np.nanmin(agreement[switch:]))
        recovered = np.flatnonzero(agreement[switch:] >= 0.99)
        out["gate_agreement_recovery_game_minutes"] = (
            None if len(recovered) == 0 else float(recovered[0] + 1) * MINUTE
        )
    return out


def overrides(pairs: Sequence[str]) -> ContinuousTrainingConfig:
    """The config with `FIELD=VALUE` overrides, read as QUEEN_TRAINER_<FIELD> would be."""
    known = set(asdict(ContinuousTrainingConfig()))
    environ = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in known:
            raise SystemExit(f"--set {pair!r}: expected FIELD=VALUE with FIELD one of {known}")
        environ[f"QUEEN_TRAINER_{name.upper()}"] = value
    return ContinuousTrainingConfig.from_env(environ)


def race(
    seed: int, args: argparse.Namespace, training: ContinuousTrainingConfig
) -> tuple[dict[str, object], dict[str, list[float]]]:
    """Every policy on one seed's world: (figures, curves)."""
    config = WorldConfig(args.territories, seed, args.switch_tick)
    evaluator = Evaluator(config)
    continuous = run_continuous(config, args.ticks, training, evaluator, args.hidden)
    curves: dict[str, list[float]] = {
        "random": run_random(config, args.ticks).tolist(),
        "oracle": run_oracle(config, args.ticks).tolist(),
        "continuous": continuous.reward,
        "continuous_share": continuous.share,
        "gate_agreement": continuous.agreement,
        "continuous_versions": [float(v) for v in continuous.versions],
        "train_cpu_s": continuous.train_cpu_s,
    }
    if not args.no_coupled:
        coupled = run_coupled(config, args.ticks, args.coupled_lr, evaluator)
        curves["coupled"], curves["coupled_share"] = coupled.reward, coupled.share
    report = figures(curves, args.switch_tick)
    steps = continuous.versions[-1]
    report["trainer_cpu_ms_per_tick"] = 1000 * float(np.mean(continuous.train_cpu_s))
    report["trainer_cpu_ms_per_step"] = 1000 * sum(continuous.train_cpu_s) / max(steps, 1)
    return report, curves


def main(argv: Sequence[str] | None = None) -> int:
    """Run every policy on the same world per seed, print the figures, write JSON and PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=240)
    parser.add_argument("--territories", type=int, default=64)
    parser.add_argument("--switch-tick", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--hidden", type=int, default=HIDDEN, help="model width (measurement)")
    parser.add_argument("--coupled-lr", type=float, default=0.001)
    parser.add_argument("--no-coupled", action="store_true", help="skip the seed's coupled loop")
    parser.add_argument("--no-plot", action="store_true", help="JSON only, no PNG")
    parser.add_argument("--out", default="var/curves")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    training = overrides(args.set)
    runs = {seed: race(seed, args, training) for seed in args.seeds}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "settings": {**asdict(training), "hidden": args.hidden, "ticks": args.ticks},
        "switch_tick": args.switch_tick,
        "seeds": {str(s): {"figures": f, "curves": c} for s, (f, c) in runs.items()},
    }
    (out / "curves.json").write_text(json.dumps(document, indent=1))
    reports = {seed: report for seed, (report, _) in runs.items()}
    print(json.dumps(reports, indent=2))
    from trainer.curve_plots import markdown_table, share_plot  # matplotlib: a dev dependency

    print(markdown_table(reports, args.switch_tick is not None))
    if not args.no_coupled:
        print(markdown_table(reports, args.switch_tick is not None, "coupled"))
    if not args.no_plot:
        curves = {seed: c for seed, (_, c) in runs.items()}
        print(share_plot(out / "share.png", curves, args.switch_tick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
