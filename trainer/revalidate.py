"""Gate re-validation at training time: targets and weights for a sampled batch.

Every sampled experience is judged again by the current SimulationGate (the one for the newest
rules the trainer has seen). If it agrees with the logged SEND/WAIT, the target is
`actual_reward_weight × actual + simulation_reward_weight × expected` (expected: the current
gate's). If it disagrees: `disagreement_mode="penalty"` subtracts `disagreement_penalty` from
that target, `"skip"` leaves the experience out. WAIT experiences are left out unless
`train_on_wait`, and then weigh `wait_reward_multiplier` in the loss.

Why a loss weight and not a reward multiplier for WAIT: this game's rewards are mostly
penalties (negative), and halving a negative reward would make WAIT look *better*; the seed's
intent (§7.3, "included in training with reduced weight") is a smaller say in the update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from queen.gate import SimulationGate
from trainer.buffer.buffer import Batch
from trainer.settings import ContinuousTrainingConfig


@dataclass(frozen=True)
class Targets:
    """What the learner trains on: targets and loss weights of the kept rows."""

    keep: np.ndarray  # (n,) bool: row takes part in the step
    targets: np.ndarray  # (n,) float32
    weights: np.ndarray  # (n,) float32: importance × WAIT weight
    agree: np.ndarray  # (n,) bool: the gate still agrees with the logged decision


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
    keep = np.ones(len(agree), dtype=bool)
    targets = blended.copy()
    if config.disagreement_mode == "skip":
        keep &= agree
    else:
        targets[~agree] -= config.disagreement_penalty
    waited = ~batch.gate_send
    weights = batch.weights.astype(np.float64).copy()
    if config.train_on_wait:
        weights[waited] *= config.wait_reward_multiplier
    else:
        keep &= ~waited
    return Targets(keep, targets.astype(np.float32), weights.astype(np.float32), agree)
