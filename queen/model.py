"""QueenNN: 28 features → an expected-reward value for each of the 32 joint actions.

Joint, not factorized: what a spawn type is worth depends on the chunk it lands in (a soldier
is worth the threat it clears there; a worker is worth the safety of its chunk), so the value
of (chunk, type) is an interaction that two independent heads (chunk, type) cannot express
without an extra term. 32 outputs are few; the joint head keeps one value per action, which is
what the losses regress: `regression_loss` the action taken (the seed), `all_actions_loss`
every action where the gate's expected reward is known (trainer/revalidate.py). torch, no I/O.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from queen.features import N_FEATURES
from queen.rules import N_ACTIONS

# 128 wide: 90% of the oracle − random gap in 11–14 game minutes; 64: 19–24 (docs/learning.md)
HIDDEN = 128
ARCHITECTURE = f"QueenNN:mlp:{N_FEATURES}-{HIDDEN}-{HIDDEN}-{N_ACTIONS}:relu:v1"
ARCHITECTURE_FINGERPRINT = hashlib.sha256(ARCHITECTURE.encode()).hexdigest()[:16]


class QueenNN(nn.Module):
    """A small MLP scoring every joint action."""

    def __init__(self, hidden: int = HIDDEN) -> None:
        """Build the layers (initialised by torch's seeded generator).

        `hidden` other than HIDDEN is for measurements only: ARCHITECTURE describes HIDDEN,
        and only that size is published and loaded.
        """
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(N_FEATURES, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, N_ACTIONS),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return (N, 32) action values for (N, 28) features."""
        values: torch.Tensor = self.net(features)
        return values


def initial_model(seed: int = 0, hidden: int = HIDDEN) -> QueenNN:
    """Return version 0: the same weights in every process for the same seed."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = QueenNN(hidden)
    torch.random.set_rng_state(generator_state)
    model.eval()
    return model


def regression_loss(
    model: QueenNN,
    features: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (loss, per-sample error): squared error of the taken action's value vs target.

    `weights` are per-sample importance weights (priority sampling); None means uniform.
    """
    values = model(features).gather(1, actions.view(-1, 1)).squeeze(1)
    error = values - targets
    squared = error.pow(2)
    loss = (squared * weights).mean() if weights is not None else squared.mean()
    return loss, error.detach()


def all_actions_loss(
    model: QueenNN, features: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (loss, per-action error): weighted squared error of every action's value.

    `targets` and `weights` are (N, 32); the loss sums over actions and averages over rows,
    so a row whose other actions weigh 0 gives regression_loss's value.
    """
    error = model(features) - targets
    loss = (error.pow(2) * weights).sum(dim=1).mean()
    return loss, error.detach()
