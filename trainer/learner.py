"""The learner: a training step on a re-validated batch, and rollback on divergence.

`step(batch, gate)` trains QueenNN on the batch's targets at the scheduled learning rate (one
gradient update per `batch_size` rows, up to `updates_per_step`) and returns the outcome; a
non-finite loss or weight restores the last good model and optimizer, is counted, and yields
no version. The learner takes batches, not a consumer: the service decides where batches come
from.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from queen.gate import SimulationGate
from queen.model import QueenNN, all_actions_loss, regression_loss
from trainer.buffer.buffer import Batch
from trainer.revalidate import Targets, training_targets
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


def make_optimizer(model: QueenNN, config: ContinuousTrainingConfig) -> torch.optim.Optimizer:
    """The optimizer `config.optimizer` names, at the initial learning rate."""
    params, lr = model.parameters(), config.initial_lr
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.Adam(params, lr=lr)


class LastGood:
    """The last good weights and optimizer state, copied in place after every step.

    Copying into tensors allocated once costs a fraction of a deepcopy of both state dicts
    (which was ~40% of a step).
    """

    def __init__(self, model: QueenNN, optimizer: torch.optim.Optimizer) -> None:
        """Remember `model`'s weights and `optimizer`'s state as they are now."""
        self.params = list(model.parameters())
        self.optimizer = optimizer
        self.weights = [p.detach().clone() for p in self.params]
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self.save()

    @torch.no_grad()
    def save(self) -> None:
        """Copy the current weights and optimizer state over the remembered ones."""
        for saved, p in zip(self.weights, self.params, strict=True):
            saved.copy_(p)
        for remembered, p in zip(self.state, self.params, strict=True):
            _copy_state(self.optimizer.state.get(p, {}), remembered)

    @torch.no_grad()
    def restore(self) -> None:
        """Put the remembered weights and optimizer state back."""
        for saved, p in zip(self.weights, self.params, strict=True):
            p.copy_(saved)
        for remembered, p in zip(self.state, self.params, strict=True):
            if remembered:
                _copy_state(remembered, self.optimizer.state[p])
            else:
                self.optimizer.state.pop(p, None)


def _copy_state(source: dict[str, Any], target: dict[str, Any]) -> None:
    """Make `target` equal to `source`, copying tensors in place where the shapes match."""
    for key in set(target) - set(source):
        del target[key]
    for key, value in source.items():
        current = target.get(key)
        if not isinstance(value, torch.Tensor):
            target[key] = copy.deepcopy(value)
        elif isinstance(current, torch.Tensor) and current.shape == value.shape:
            current.copy_(value)
        else:
            target[key] = value.detach().clone()


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
        self.optimizer = make_optimizer(model, config)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self._good = LastGood(model, self.optimizer)

    def step(self, batch: Batch, gate: SimulationGate) -> StepOutcome | None:
        """Take one step; None when nothing in the batch is kept or the step diverged.

        A step is `updates` gradient updates on minibatches of about `batch_size` rows, the
        batch's kept rows split by stride (rows j, j + updates, ...): up to
        `updates_per_step`, fewer while the batch is smaller. A batch of `batch_size` rows
        (what the service samples today) is one update, as in the seed.
        """
        t = training_targets(batch, gate, self.config)
        kept = np.flatnonzero(t.keep)
        if len(kept) == 0:
            self.skipped += 1
            return None
        lr = self.config.lr_at(self.steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        updates = max(
            1, min(self.config.updates_per_step, round(len(kept) / self.config.batch_size))
        )
        errors = np.empty(len(kept), dtype=np.float32)
        losses = []
        self.model.train()
        for j in range(updates):
            loss, error = self._loss(batch, t, kept[j::updates])
            if not torch.isfinite(loss):
                self._rollback(f"non-finite loss {loss.item()}")
                return None
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
            errors[j::updates] = error.numpy()
        self.model.eval()
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            self._rollback("non-finite weights after the step")
            return None
        self.steps += 1
        parent, self.version = self.version, self.version + 1
        self._good.save()
        return StepOutcome(
            version=self.version,
            parent_version=parent,
            step=self.steps,
            loss=float(np.mean(losses)),
            batch_size=len(kept),
            learning_rate=lr,
            gate_agreement=float(t.agree.mean()),
            indices=batch.indices[kept],
            errors=errors,
        )

    def _loss(
        self, batch: Batch, t: Targets, rows: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and per-row error (of the taken action) of one minibatch of `batch`."""
        features = torch.from_numpy(np.ascontiguousarray(batch.features[rows]))
        action = torch.from_numpy(batch.action[rows])
        if t.all_targets is not None and t.all_weights is not None:
            loss, every = all_actions_loss(
                self.model,
                features,
                torch.from_numpy(t.all_targets[rows]),
                torch.from_numpy(t.all_weights[rows]),
            )
            return loss, every[torch.arange(len(rows)), action]
        return regression_loss(
            self.model,
            features,
            action,
            torch.from_numpy(t.targets[rows]),
            torch.from_numpy(t.weights[rows]),
        )

    def _rollback(self, why: str) -> None:
        self.rollbacks += 1
        self._good.restore()
        self.model.eval()
        logger.error("training step rolled back to version %d: %s", self.version, why)
