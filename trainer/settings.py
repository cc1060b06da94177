"""The trainer's settings: the seed's ContinuousTrainingConfig, and issue 15's levers.

The seed's names and defaults are kept but initial_lr (docs/learning.md has the figures).

Read once from QUEEN_TRAINER_<FIELD> variables in `main`; a bad value fails at start naming
the variable and the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from runtime.errors import SettingsError
from runtime.settings import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class ContinuousTrainingConfig:
    """The seed's configuration (§4), plus what running it on Kafka needs."""

    # Training loop
    training_interval: float = 1.0  # seconds between training steps; 0 = as fast as data allows
    batch_size: int = 32  # experiences per step
    min_batch_size: int = 8  # fewer eligible experiences than this: no step
    # Replay buffer
    buffer_capacity: int = 10000  # experiences kept, FIFO
    priority_sampling: bool = False  # sample proportional to last |error| (importance weighted)
    # Beyond the seed: up to this share of each batch is experiences not trained on yet, newest
    # first (combined experience replay); the rest is sampled. 0 = the seed's pure sampling,
    # where a new experience waits ~buffer/batch steps for its first use (see docs/learning.md).
    fresh_share: float = 0.5
    # Reward weighting (agreeing experiences)
    simulation_reward_weight: float = 0.3  # weight of the gate's expected reward
    actual_reward_weight: float = 0.7  # weight of the game's reward
    # Learning rate schedule
    # The seed's 0.001 is too slow for the replay ratio below: 90% of the gap is reached late or
    # not before patch day (docs/learning.md). The decay and floor are the seed's.
    initial_lr: float = 0.003
    lr_decay: float = 0.99  # multiplied in every lr_decay_steps steps
    min_lr: float = 0.0001  # the schedule never goes below it
    # Gate integration
    train_on_wait: bool = True  # include WAIT experiences
    wait_reward_multiplier: float = 0.5  # loss weight of WAIT experiences (see docs)
    # Beyond the seed
    lr_decay_steps: int = 100  # steps per lr_decay
    disagreement_mode: str = "penalty"  # gate disagrees: "penalty" or "skip" the experience
    disagreement_penalty: float = 0.5  # subtracted from the target when the gate disagrees
    max_experience_age_s: float = 3600.0  # game seconds; older experiences are not sampled
    max_version_lag: int = 1000  # experiences from models further behind are not sampled
    priority_alpha: float = 0.6  # priority exponent
    priority_beta: float = 0.4  # importance-weight exponent
    checkpoint_every: int = 50  # versions between checkpoints
    watchdog_multiple: float = 30.0  # no step for this many intervals with data: exit non-zero
    model_name: str = "queen"  # the key of the versions published
    seed: int = 0  # seeds version 0 and the sampler
    # Issue 15 (docs/learning.md measures each, alone and combined)
    # "taken": regress the taken action's value only (the seed); "all": every action, those not
    # taken on the gate's exact expected reward under its rules (trainer/revalidate.py).
    loss_targets: str = "all"
    counterfactual_weight: float = 1.0  # loss weight of each action not taken ("all")
    # Rows of older rules than the gate's (after patch day): "keep" (the seed), "down-weight"
    # (x stale_rules_weight), "retire" (not trained on), "relabel" (the current gate's
    # expectations only: the realized reward and logged verdict belong to the old rules).
    stale_rules: str = "relabel"
    stale_rules_weight: float = 0.1  # loss weight of older-rules rows ("down-weight")
    # Weigh each row by 1 / (32 x its logged propensity), at most propensity_clip.
    propensity_weighting: bool = False
    propensity_clip: float = 10.0  # the largest weight propensity weighting gives a row
    optimizer: str = "adam"  # "adam", "adamw" (weight decay 0.01) or "sgd" (momentum 0.9)
    # Gradient updates per training step, each on batch_size rows: a step trains on a batch of
    # batch_size x updates_per_step rows (the replay ratio, at one version per step). The
    # caller samples that many; given batch_size rows a step is one update, as in the seed.
    updates_per_step: int = 10

    def __post_init__(self) -> None:
        """Validate every value; the message names the variable and the value."""
        checks = [
            ("training_interval", self.training_interval >= 0, ">= 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("min_batch_size", 1 <= self.min_batch_size <= self.batch_size, "in 1..batch_size"),
            ("buffer_capacity", self.buffer_capacity >= self.batch_size, ">= batch_size"),
            ("fresh_share", 0 <= self.fresh_share <= 1, "in [0, 1]"),
            ("simulation_reward_weight", 0 <= self.simulation_reward_weight <= 1, "in [0, 1]"),
            ("actual_reward_weight", 0 <= self.actual_reward_weight <= 1, "in [0, 1]"),
            ("initial_lr", self.initial_lr > 0, "> 0"),
            ("lr_decay", 0 < self.lr_decay <= 1, "in (0, 1]"),
            ("min_lr", 0 < self.min_lr <= self.initial_lr, "in (0, initial_lr]"),
            ("wait_reward_multiplier", 0 <= self.wait_reward_multiplier <= 1, "in [0, 1]"),
            ("lr_decay_steps", self.lr_decay_steps >= 1, ">= 1"),
            ("disagreement_mode", self.disagreement_mode in ("penalty", "skip"), "penalty|skip"),
            ("max_experience_age_s", self.max_experience_age_s > 0, "> 0"),
            ("max_version_lag", self.max_version_lag >= 0, ">= 0"),
            ("checkpoint_every", self.checkpoint_every >= 1, ">= 1"),
            ("watchdog_multiple", self.watchdog_multiple > 1, "> 1"),
            ("loss_targets", self.loss_targets in ("taken", "all"), "taken|all"),
            ("counterfactual_weight", self.counterfactual_weight >= 0, ">= 0"),
            (
                "stale_rules",
                self.stale_rules in ("keep", "down-weight", "retire", "relabel"),
                "keep|down-weight|retire|relabel",
            ),
            ("stale_rules_weight", 0 <= self.stale_rules_weight <= 1, "in [0, 1]"),
            ("propensity_clip", self.propensity_clip >= 1, ">= 1"),
            ("optimizer", self.optimizer in ("adam", "adamw", "sgd"), "adam|adamw|sgd"),
            ("updates_per_step", self.updates_per_step >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                value = getattr(self, name)
                raise SettingsError(f"QUEEN_TRAINER_{name.upper()}={value!r}: must be {rule}")
        total = self.simulation_reward_weight + self.actual_reward_weight
        if abs(total - 1.0) > 1e-9:
            msg = (
                "QUEEN_TRAINER_SIMULATION_REWARD_WEIGHT + QUEEN_TRAINER_ACTUAL_REWARD_WEIGHT="
                f"{total!r}: must add up to 1"
            )
            raise SettingsError(msg)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ContinuousTrainingConfig:
        """Read every field from QUEEN_TRAINER_<FIELD>, defaulting to the seed's values."""
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            name, default = f"QUEEN_TRAINER_{f.name.upper()}", f.default
            if isinstance(default, bool):
                values[f.name] = env_bool(environ, name, default)
            elif isinstance(default, int):
                values[f.name] = env_int(environ, name, default)
            elif isinstance(default, float):
                values[f.name] = env_float(environ, name, default)
            else:
                values[f.name] = env_str(environ, name, str(default))
        return cls(**values)  # type: ignore[arg-type]

    def lr_at(self, step: int) -> float:
        """Learning rate at `step`: initial × decay^(step // lr_decay_steps), floored at min_lr."""
        return max(self.min_lr, self.initial_lr * self.lr_decay ** (step // self.lr_decay_steps))
