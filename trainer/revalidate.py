"""Gate re-validation at training time: targets and weights for a sampled batch.

Every sampled experience is judged again by the current SimulationGate (the one for the newest
rules the trainer has seen). If it agrees with the logged SEND/WAIT, the target is
`actual_reward_weight × actual + simulation_reward_weight × expected` (expected: the current
gate's). If it disagrees: `disagreement_mode="penalty"` subtracts `disagreement_penalty` from
that target, `"skip"` leaves the experience out. WAIT experiences are left out unless
`train_on_wait`, and then weigh `wait_reward_multiplier` in the loss.

Beyond the seed (docs/learning.md measures each):
- `loss_targets="all"`: every action of a row gets a target, not only the one taken. The gate
  knows each action's exact expected reward under its rules from the features alone; that is
  the target of the actions not taken (loss weight `counterfactual_weight`). The taken action
  keeps the blended target above. A WAIT row's logged reward is what waiting brought, not
  what its action would have, so in this mode its taken action's target is the expectation too.
- `stale_rules`: rows logged under older rules than the gate's (patch day). Their realized
  reward and logged verdict belong to rules no longer in force. "keep" (the seed), "down-weight"
  (× `stale_rules_weight`), "retire" (left out), or "relabel": the state stays, its targets
  are the current gate's expectations only (no realized reward, no disagreement penalty).
- `propensity_weighting`: the taken action's target weighs 1 / (N_ACTIONS × logged
  propensity), at most `propensity_clip`: the loss a uniformly random logging policy would have
  given. The targets of actions not taken are the gate's, whatever the logging policy did.

Why a loss weight and not a reward multiplier for WAIT: this game's rewards are mostly
penalties (negative), and halving a negative reward would make WAIT look *better*; the seed's
intent (§7.3, "included in training with reduced weight") is a smaller say in the update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queen.gate import SimulationGate, expected_table
from queen.rules import N_ACTIONS
from trainer.buffer.buffer import Batch
from trainer.settings import ContinuousTrainingConfig

__all__ = ["Targets", "expected_table", "training_targets"]  # expected_table: from queen.gate


@dataclass(frozen=True)
class Targets:
    """What the learner trains on: targets and loss weights of the kept rows."""

    keep: np.ndarray  # (n,) bool: row takes part in the step
    targets: np.ndarray  # (n,) float32: target of the taken action
    weights: np.ndarray  # (n,) float32 of the taken action: importance × WAIT × staleness
    agree: np.ndarray  # (n,) bool: the gate still agrees with the logged decision
    all_targets: np.ndarray | None = None  # (n, N_ACTIONS) float32, loss_targets="all" only
    all_weights: np.ndarray | None = None  # (n, N_ACTIONS) float32, loss_targets="all" only


def training_targets(
    batch: Batch, gate: SimulationGate, config: ContinuousTrainingConfig
) -> Targets:
    """Re-validate `batch` with `gate` and return the targets per `config`."""
    verdict = gate.evaluate(batch.features, batch.action)
    agree = verdict.send == batch.gate_send
    blended = (
        config.actual_reward_weight * batch.reward.astype(np.float64)
        + config.simulation_reward_weight * verdict.expected_reward
    )
    stale = np.asarray(batch.rules_version) < gate.rules.version
    relabel = stale if config.stale_rules == "relabel" else np.zeros(len(agree), dtype=bool)
    keep = np.ones(len(agree), dtype=bool)
    targets = blended.copy()
    if config.disagreement_mode == "skip":
        keep &= agree | relabel
    else:
        targets[~agree & ~relabel] -= config.disagreement_penalty
    waited = ~batch.gate_send
    weights = batch.weights.astype(np.float64).copy()
    if config.train_on_wait:
        weights[waited] *= config.wait_reward_multiplier
    else:
        keep &= ~waited
    if config.stale_rules == "down-weight":
        weights[stale] *= config.stale_rules_weight
    elif config.stale_rules == "retire":
        keep &= ~stale
    row_weights = weights.copy()  # what every action's target of the row weighs
    if config.propensity_weighting and batch.propensity is not None:
        p = np.maximum(np.asarray(batch.propensity, dtype=np.float64), 1e-12)
        weights *= np.minimum(1.0 / (N_ACTIONS * p), config.propensity_clip)
    expectation_only = relabel.copy()
    all_targets = all_weights = None
    if config.loss_targets == "all":
        expectation_only |= waited
        table = expected_table(batch.features, gate.rules)
        rows = np.arange(len(agree))
        taken = np.where(expectation_only, table[rows, batch.action], targets)
        table[rows, batch.action] = taken
        targets = taken
        matrix = np.repeat(row_weights[:, None] * config.counterfactual_weight, N_ACTIONS, axis=1)
        matrix[rows, batch.action] = weights
        all_targets, all_weights = table.astype(np.float32), matrix.astype(np.float32)
    else:
        targets[expectation_only] = verdict.expected_reward[expectation_only]
    return Targets(
        keep,
        targets.astype(np.float32),
        weights.astype(np.float32),
        agree,
        all_targets,
        all_weights,
    )
