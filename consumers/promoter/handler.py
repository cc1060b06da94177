"""The promoter's handler (pure): experiences fill the window; each tick scores and decides.

Every `evaluate_interval_s` (bounded work: a few forward passes and estimates on the window),
on the rows the *served* version logged itself (its logging policy is then known exactly, so
the expected effective sample size of any target is too):

- gated: the candidate is the newest *arrived* verified version (a version numbered far ahead
  does not block the trainer's later ones) that is not served and was never rolled back. It
  and the served version are scored off-policy (DR by default); `queen.promotion.gate_candidate`
  decides; a PROMOTE promotion carrying the candidate is emitted.
- gated and immediate: the served version's realized reward on its own rows is compared with
  the realized reward of the rows served before it (every version neither served nor
  withdrawn); `queen.promotion.rollback_due` decides; a ROLLBACK promotion carrying the
  previous version is emitted. Both are on-policy means, so their intervals are honest however
  far apart the two policies are (an off-policy estimate of a very different version rests on
  a handful of effective rows). In immediate mode the served version is the highest-numbered
  one not withdrawn, as inference serves it.
- manual: scores only (metrics); promotions come from the CLI.

A freshly served version has no rows of its own: nothing is decided on it until it has logged
`min_samples`, which is the cooldown after every promotion. After emitting, nothing more is
decided until the promotion is read back from the topic (so the promoter acts on what is
served, never on what it merely sent), or 10 s pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch
from typing_extensions import override

from consumers.promoter.window import Window
from queen.model import QueenNN
from queen.ope import Estimate, Logged, estimate, expected_effective_n, mean_estimate
from queen.policy import ExplorationConfig, action_probabilities
from queen.promotion import gate_candidate, rollback_due
from runtime.handler import Handler, Incoming, Outgoing
from schemas.codec import Codec
from schemas.enums import PromotionKind, ServingMode
from schemas.records import ModelVersion, Promotion, PromotionEvidence

logger = logging.getLogger(__name__)

READ_BACK_S = 10.0
SHADOW_TOLERANCE = 1e-3  # float32 on the wire: probabilities agree to this


@dataclass(frozen=True)
class Known:
    """A verified version the promoter can score and promote."""

    record: ModelVersion
    model: QueenNN


class Versions(Protocol):
    """What the handler needs of the versions seen and of what is served."""

    def arrived(self) -> list[Known]:
        """The verified versions kept, oldest arrival first."""
        ...

    def served(self) -> tuple[Known | None, Known | None]:
        """(served, served before it) as the promotions read back say; None where unknown."""
        ...

    def withdrawn(self) -> set[int]:
        """Versions a rollback took out of serving."""
        ...

    def last_promotion_at(self) -> int:
        """created_at of the last promotion read back (-1 for none)."""
        ...


@dataclass(frozen=True)
class Decide:
    """How the promoter decides."""

    mode: ServingMode
    method: str = "dr"
    confidence: float = 0.95
    tolerance: float = 0.05
    min_samples: int = 200
    rollback_margin: float = 0.1
    evaluate_interval_s: float = 1.0
    min_effective_n: float = 0.0
    agreement_margin: float = 0.1


class PromoterHandler(Handler):
    """Scores versions on the window and emits promotions."""

    def __init__(
        self,
        model_name: str,
        versions: Versions,
        window: Window,
        decide: Decide,
        exploration: ExplorationConfig,
        sign: Callable[[Promotion], Promotion],
        codec: Codec,
        promotions_topic: str,
        metrics: Any = None,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        """Decide per `decide`; sign with `sign`; write to `promotions_topic`."""
        self.model_name = model_name
        self.versions = versions
        self.window = window
        self.decide = decide
        self.exploration = exploration
        self.sign = sign
        self.codec = codec
        self.topic = promotions_topic
        self.metrics = metrics
        self.wall_us = wall_us
        self._next_at = 0.0
        self._awaiting: tuple[int, float] | None = None  # (created_at, give up at)

    @override
    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing]:
        """Add the batch's experiences to the window."""
        self.window.add([item.record for item in batch])
        if self.metrics is not None:
            self.metrics.window.set(self.window.count)
        return []

    @override
    def on_tick(self, now: float) -> list[Outgoing]:
        """Score and decide, at most once per evaluate interval."""
        if now < self._next_at:
            return []
        self._next_at = now + self.decide.evaluate_interval_s
        if self._awaiting is not None:
            created_at, give_up = self._awaiting
            if self.versions.last_promotion_at() < created_at and now < give_up:
                return []
            self._awaiting = None
        promotion = self.evaluate()
        if promotion is None:
            return []
        self._awaiting = (promotion.created_at, now + READ_BACK_S)
        return [Outgoing(self.topic, self.model_name.encode(), promotion)]

    def evaluate(self) -> Promotion | None:
        """The promotion the window calls for now, signed, or None."""
        served, previous = self._served_pair()
        if served is None or self.window.count == 0:
            return None
        own = self.window.logged_by(served.record.version)
        rows = self.window.logged(own)
        served_values = self._values(served, rows[0])
        served_est = self._score(served_values, rows, served_values)
        self._export("served", served, served_est)
        if self.decide.mode is ServingMode.GATED:
            candidate = self._candidate(served)
            if candidate is not None:
                values = self._values(candidate, rows[0])
                self._cross_check(candidate, own, values)
                found = self._score(values, rows, served_values)
                self._export("candidate", candidate, found)
                verdict = gate_candidate(
                    found,
                    served_est,
                    tolerance=self.decide.tolerance,
                    min_samples=self.decide.min_samples,
                    min_effective_n=self.decide.min_effective_n,
                )
                if verdict.act:
                    return self._promotion(
                        PromotionKind.PROMOTE, candidate, served, found, served_est, verdict.reason
                    )
        signals = self._on_policy(own)  # exported in every mode: the rollback's evidence
        if previous is None or self.decide.mode is ServingMode.MANUAL:
            return None
        if previous.record.version == 0:  # the seeded model was never published: no record
            return None
        for live, before, margin in signals:
            verdict = rollback_due(live, before, margin=margin, min_samples=self.decide.min_samples)
            if verdict.act:
                return self._promotion(
                    PromotionKind.ROLLBACK, previous, served, before, live, verdict.reason
                )
        return None

    def _on_policy(self, own: np.ndarray) -> list[tuple[Estimate, Estimate, float]]:
        """(served, before, margin) per rollback signal: realized reward, gate agreement.

        Each is an on-policy mean (every weight 1: honest intervals whatever the policies) of
        the served version's own rows and of the rows served before it (every version neither
        served now nor withdrawn). Both signals count: the gate turns a bad action into WAIT,
        which hides much of a bad version from the realized reward but not from the share of
        its actions the gate agrees to send.
        """
        withdrawn = np.fromiter(self.versions.withdrawn(), np.int64)
        held = self.window.versions[: self.window.count]
        before = ~own & ~np.isin(held, withdrawn)
        out = []
        for signal, rows, margin in (
            ("realized", self.window.realized, self.decide.rollback_margin),
            ("agreement", self.window.agreement, self.decide.agreement_margin),
        ):
            pair = tuple(
                mean_estimate(rows(mask), confidence=self.decide.confidence, method=signal)
                for mask in (own, before)
            )
            if self.metrics is not None:
                gauge = self.metrics.realized if signal == "realized" else self.metrics.agreement
                for role, found in zip(("served", "previous"), pair, strict=True):
                    for bound in ("value", "lower", "upper"):
                        gauge.labels(role=role, bound=bound).set(getattr(found, bound))
            out.append((pair[0], pair[1], margin))
        return out

    def _served_pair(self) -> tuple[Known | None, Known | None]:
        if self.decide.mode is not ServingMode.IMMEDIATE:
            return self.versions.served()
        withdrawn = self.versions.withdrawn()
        live = sorted(
            (k for k in self.versions.arrived() if k.record.version not in withdrawn),
            key=lambda k: k.record.version,
        )
        if not live:
            return None, None
        return live[-1], (live[-2] if len(live) > 1 else None)

    def _candidate(self, served: Known) -> Known | None:
        withdrawn = self.versions.withdrawn()
        for known in reversed(self.versions.arrived()):
            if known.record.version == served.record.version:
                return None  # the newest arrival is served already
            if known.record.version not in withdrawn:
                return known
        return None

    def _cross_check(self, candidate: Known, own: np.ndarray, values: np.ndarray) -> None:
        """Count the rows where inference's shadow of the candidate is not the promoter's own.

        The promoter scores the candidate with its own forward pass on the logged features (the
        same contexts the served version saw) and never trusts probabilities a record carries;
        inference's shadow of the same version must agree with it. A mismatch is an exploring
        policy configured differently in the two services (or a forged decision).
        """
        hit, logged = self.window.shadowed(own, candidate.record.version)
        if self.metrics is None or not hit.any():
            return
        ours = action_probabilities(values[hit], self.exploration)
        wrong = int((np.abs(ours - logged).max(axis=1) > SHADOW_TOLERANCE).sum())
        self.metrics.shadow_rows.labels(outcome="agree").inc(int(hit.sum()) - wrong)
        self.metrics.shadow_rows.labels(outcome="mismatch").inc(wrong)

    @staticmethod
    def _values(known: Known, features: np.ndarray) -> np.ndarray:
        """The values `known` gives every action of the rows of `features`."""
        with torch.inference_mode():
            values = known.model(torch.from_numpy(np.ascontiguousarray(features))).numpy()
        return values

    def _score(
        self,
        values: np.ndarray,
        rows: tuple[np.ndarray, Logged, np.ndarray],
        logging_values: np.ndarray,
    ) -> Estimate:
        """The deciding estimate of a target (its values) on the served version's own rows.

        Its effective_n is the lower of the drawn one and the expected one, computed from the
        served version's probabilities, which logged these rows.
        """
        _, logged, q = rows
        target = action_probabilities(values, self.exploration)
        logging = action_probabilities(logging_values, self.exploration)
        table = q if self.decide.method == "dr" else None
        found = estimate(
            self.decide.method, logged, target, table, confidence=self.decide.confidence
        )
        expected = expected_effective_n(target, logging)
        return replace(found, effective_n=min(found.effective_n, expected))

    def _export(self, role: str, known: Known, found: Estimate) -> None:
        if self.metrics is None:
            return
        self.metrics.version.labels(role=role).set(known.record.version)
        self.metrics.effective_samples.labels(role=role).set(found.effective_n)
        for bound in ("value", "lower", "upper"):
            self.metrics.estimate.labels(role=role, bound=bound).set(getattr(found, bound))
        if role == "candidate":
            age = max(0, self.wall_us() - known.record.created_at) / 1e6
            self.metrics.candidate_age.set(age)

    def _promotion(
        self,
        kind: PromotionKind,
        target: Known,
        baseline: Known,
        found: Estimate,
        base: Estimate,
        reason: str,
    ) -> Promotion:
        evidence = PromotionEvidence(
            found.method,
            found.value,
            found.lower,
            found.upper,
            found.n,
            baseline.record.version,
            base.value,
            base.lower,
            base.upper,
        )
        promotion = Promotion(
            model_name=self.model_name,
            model_version=target.record.version,
            sha256=target.record.sha256,
            kind=kind,
            mode=self.decide.mode,
            version_record=self.codec.encode(target.record),
            previous_version=baseline.record.version,
            created_at=self.wall_us(),
            evidence=evidence,
            reason=reason[:1000],
        )
        if self.metrics is not None:
            self.metrics.promotions.labels(kind=str(kind)).inc()
        logger.warning(
            "%s version %d (from %d): %s",
            kind.value.lower(),
            target.record.version,
            baseline.record.version,
            reason,
            extra={"model_version": target.record.version},
        )
        return self.sign(promotion)
