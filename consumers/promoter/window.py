"""The recent joined experiences the promoter scores versions on: a bounded ring of arrays.

Only MATCHED experiences enter (a DEFAULT one's reward is not the game's). Each row keeps the
logged context (features), the action taken, its propensity, the realized reward and the
gate's expected reward of every action for the row's rules (the direct-method table of the
doubly robust estimate), computed once, when the row arrives; also the model version that
logged it (the promoter scores on the rows the served version logged itself, whose logging
policy it can reproduce exactly), whether the gate agreed to send its action, and inference's
shadow scoring of the row (the candidate's probabilities, Decision.shadow).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from queen.gate import expected_table
from queen.ope import Logged
from queen.rules import N_ACTIONS, N_TYPES, RULE_SETS, SPAWN_TYPES
from schemas.enums import GateDecision, RewardSource
from schemas.records import Experience

N_FEATURES = 28
TYPE_INDEX = {name: i for i, name in enumerate(SPAWN_TYPES)}


class Window:
    """The newest `size` MATCHED experiences."""

    def __init__(self, size: int) -> None:
        """Hold at most `size` rows."""
        self.size = size
        self.features = np.zeros((size, N_FEATURES), np.float32)
        self.actions = np.zeros(size, np.int64)
        self.propensities = np.ones(size)
        self.rewards = np.zeros(size)
        self.q = np.zeros((size, N_ACTIONS))
        self.versions = np.zeros(size, np.int64)  # the model version that logged each row
        self.sends = np.zeros(size)  # 1.0 where the gate let the decision's action be sent
        # Inference's shadow scoring of the row (Decision.shadow): the candidate it scored
        # (-1: none) and that candidate's probabilities of every action.
        self.shadow_versions = np.full(size, -1, np.int64)
        self.shadow_probs = np.zeros((size, N_ACTIONS), np.float32)
        self.count = 0  # rows held
        self.added = 0  # rows ever added (the next row's ring position is added % size)

    def add(self, experiences: Sequence[Experience]) -> int:
        """Take the MATCHED experiences of known rules; return how many were taken."""
        rows = [
            e
            for e in experiences
            if e.reward_source is RewardSource.MATCHED and e.decision.rules_version in RULE_SETS
        ]
        if not rows:
            return 0
        rows = rows[-self.size :]
        features = np.asarray([e.decision.features for e in rows], np.float32)
        q = np.empty((len(rows), N_ACTIONS))
        rules = np.asarray([e.decision.rules_version for e in rows])
        for version in np.unique(rules):
            mask = rules == version
            q[mask] = expected_table(features[mask], RULE_SETS[int(version)])
        at = (self.added + np.arange(len(rows))) % self.size
        self.features[at] = features
        self.actions[at] = [
            e.decision.action.spawn_chunk * N_TYPES + TYPE_INDEX[str(e.decision.action.spawn_type)]
            for e in rows
        ]
        self.propensities[at] = [e.decision.action_probability for e in rows]
        self.rewards[at] = [e.reward for e in rows]
        self.q[at] = q
        self.versions[at] = [e.decision.model_version for e in rows]
        self.sends[at] = [e.decision.gate_decision is GateDecision.SEND for e in rows]
        shadows = [e.decision.shadow for e in rows]
        self.shadow_versions[at] = [-1 if s is None else s.model_version for s in shadows]
        self.shadow_probs[at] = [
            np.zeros(N_ACTIONS) if s is None else s.probabilities for s in shadows
        ]
        self.added += len(rows)
        self.count = min(self.size, self.count + len(rows))
        return len(rows)

    def logged_by(self, version: int) -> np.ndarray:
        """Mask over the rows held: those `version` logged."""
        return self.versions[: self.count] == version

    def logged(self, mask: np.ndarray | None = None) -> tuple[np.ndarray, Logged, np.ndarray]:
        """(features, what was logged, q table) of the rows held (those of `mask`)."""
        n = self.count
        keep = slice(0, n) if mask is None else np.flatnonzero(mask)
        logged = Logged(
            self.actions[keep].copy(), self.propensities[keep].copy(), self.rewards[keep].copy()
        )
        return self.features[keep], logged, self.q[keep]

    def realized(self, mask: np.ndarray) -> np.ndarray:
        """The realized rewards of the rows of `mask` (over the rows held)."""
        return self.rewards[: self.count][mask]

    def shadowed(self, mask: np.ndarray, version: int) -> tuple[np.ndarray, np.ndarray]:
        """(hit, probabilities): the rows of `mask` inference shadow-scored with `version`.

        `probabilities` are those it logged for the hit rows, in the order of `mask`'s rows.
        """
        n = self.count
        hit = self.shadow_versions[:n][mask] == version
        return hit, self.shadow_probs[:n][mask][hit]

    def agreement(self, mask: np.ndarray) -> np.ndarray:
        """1.0 / 0.0 per row of `mask`: whether the gate agreed to send the decision's action."""
        return self.sends[: self.count][mask]
