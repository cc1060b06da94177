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
from queen.model import QueenNN, all_actions_loss, regression_loss
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
        features = torch.from_numpy(np.ascontiguousarray(batch.features[keep]))
        if t.all_targets is not None and t.all_weights is not None:
            loss, every = all_actions_loss(
                self.model,
                features,
                torch.from_numpy(t.all_targets[keep]),
                torch.from_numpy(t.all_weights[keep]),
            )
            errors = every[torch.arange(len(every)), torch.from_numpy(batch.action[keep])]
        else:
            loss, errors = regression_loss(
                self.model,
                features,
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
        self._good.save()
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

    def _rollback(self, why: str) -> None:
        self.rollbacks += 1
        self._good.restore()
        self.model.eval()
        logger.error("training step rolled back to version %d: %s", self.version, why)
