"""The learner: one gradient step on a re-validated batch, and rollback on divergence.

`step(batch, gate)` trains QueenNN on the batch's targets at the scheduled learning rate and
returns the outcome; a non-finite loss or weight restores the last good model and optimizer,
is counted, and yields no version. The learner takes batches, not a consumer: the service
decides where batches come from.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from queen.gate import SimulationGate
from queen.model import QueenNN, regression_loss
from trainer.buffer.buffer import Batch
from trainer.revalidate import training_targets
from trainer.settings import ContinuousTrainingConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepOutcome:
    """A completed training step: the new version and what made it."""

    version: int
    parent_version: int
    step: int
    loss: float
    batch_size: int
    learning_rate: float
    gate_agreement: float
    indices: np.ndarray
    errors: np.ndarray


class Learner:
    """Owns the model being trained, its optimizer and the version counter."""

    def __init__(
        self,
        model: QueenNN,
        config: ContinuousTrainingConfig,
        version: int = 0,
        step: int = 0,
        optimizer_state: dict[str, Any] | None = None,
    ) -> None:
        """Train `model` from `version` (the published version it holds) and `step`."""
        self.model = model
        self.config = config
        self.version = version
        self.steps = step
        self.rollbacks = 0
        self.skipped = 0
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.initial_lr)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self._good = self._snapshot()

    def step(self, batch: Batch, gate: SimulationGate) -> StepOutcome | None:
        """Take one step; None when nothing in the batch is kept or the step diverged."""
        t = training_targets(batch, gate, self.config)
        if not t.keep.any():
            self.skipped += 1
            return None
        lr = self.config.lr_at(self.steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        keep = t.keep
        self.model.train()
        loss, errors = regression_loss(
            self.model,
            torch.from_numpy(np.ascontiguousarray(batch.features[keep])),
            torch.from_numpy(batch.action[keep]),
            torch.from_numpy(t.targets[keep]),
            torch.from_numpy(t.weights[keep]),
        )
        if not torch.isfinite(loss):
            self._rollback(f"non-finite loss {loss.item()}")
            return None
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.model.eval()
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            self._rollback("non-finite weights after the step")
            return None
        self.steps += 1
        parent, self.version = self.version, self.version + 1
        self._good = self._snapshot()
        return StepOutcome(
            version=self.version,
            parent_version=parent,
            step=self.steps,
            loss=float(loss.item()),
            batch_size=int(keep.sum()),
            learning_rate=lr,
            gate_agreement=float(t.agree.mean()),
            indices=batch.indices[keep],
            errors=errors.numpy(),
        )

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict())

    def _rollback(self, why: str) -> None:
        self.rollbacks += 1
        model_state, optimizer_state = self._good
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optimizer_state)
        self.model.eval()
        logger.error("training step rolled back to version %d: %s", self.version, why)
