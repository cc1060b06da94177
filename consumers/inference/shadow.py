"""Shadow scoring: the candidate model run on the served batch's features, never acted on.

In gated and manual modes the slot holds a candidate: the newest verified version newer than
the served one, not withdrawn (consumers/inference/model_slot.py). With QUEEN_INFERENCE_SHADOW
on (the default) inference runs it on every batch, after the served model and the gate, on the
very same features: one more forward pass, no draw from the exploring policy's generator (so
the served decisions are the same with or without it). Each Decision then carries
`shadow = Shadow(candidate version, its greedy action, its exploring-policy probabilities of
all 32 actions)` (queen.policy.action_probabilities with inference's ExplorationConfig): what
a doubly robust estimate of the candidate needs, on the contexts the served policy saw.

A row whose candidate values are not finite gets no shadow (None), so a candidate can never
make a served decision invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from consumers.inference.model_slot import Served
from queen.policy import ExplorationConfig, action_probabilities
from schemas.records import Action, Shadow


@dataclass(frozen=True)
class ShadowScores:
    """One batch scored by the candidate: a Shadow (or None) per row, and the agreement."""

    version: int
    shadows: list[Shadow | None]
    agreement: float  # share of rows whose candidate greedy action is the served greedy one


def candidate_of(served: Served, candidate: Served | None) -> Served | None:
    """The candidate to score beside `served`, or None (none, or no longer newer)."""
    if candidate is None or candidate.version <= served.version:
        return None  # a promotion swapped it in (or past it) between the two reads
    return candidate


def score(
    candidate: Served,
    features: np.ndarray,
    served_values: np.ndarray,
    config: ExplorationConfig,
    actions: tuple[Action, ...],
) -> ShadowScores:
    """Run `candidate` on (N, 28) `features`; `served_values` are the served model's (N, 32)."""
    with torch.inference_mode():
        inputs = torch.from_numpy(np.ascontiguousarray(features, np.float32))
        values = candidate.model(inputs).numpy().astype(np.float64)
    finite = np.isfinite(values).all(axis=1)
    safe = np.where(finite[:, None], values, 0.0)
    greedy = safe.argmax(axis=1)
    probabilities = action_probabilities(safe, config).astype(np.float32)  # Avro float
    agreement = float((greedy == served_values.argmax(axis=1)).mean()) if len(greedy) else 0.0
    shadows: list[Shadow | None] = [
        Shadow(candidate.version, actions[a], tuple(row)) if ok else None
        for a, row, ok in zip(greedy.tolist(), probabilities.tolist(), finite.tolist(), strict=True)
    ]
    return ShadowScores(candidate.version, shadows, agreement)
