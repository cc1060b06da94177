"""The served model: an immutable (version, model) pair swapped by one reference assignment.

A background thread follows the model-versions topic from the beginning (no consumer group:
every instance reads it whole). Of each batch it reads, it keeps only the newest version that
passes the checks of runtime/model_versions.py (signed by a trusted key, sha256, not stale, no
absurd jump, not from the future) and loads its weights aside (fingerprints, names, shapes,
finite values). What happens next is the serving mode's (QUEEN_SERVING_MODE):

- immediate (the seed's behaviour): it is swapped in at once. A ROLLBACK promotion serves the
  version it carries and withdraws the one it names as previous: that one is never served
  again; newer versions are served as they come.
- gated, manual: it becomes the *candidate* (shadow-scored, never served); the served version
  changes only when a valid promotion (runtime/promotions.py, followed by a second thread)
  carries a version: that one is swapped in.

The slot keeps at most one candidate: the newest loaded version newer than the served one and
not withdrawn. An older or equal offer leaves it; a promotion that serves it, or serves a newer
version, or withdraws it clears it. Inference scores it as the shadow (QUEEN_INFERENCE_SHADOW,
consumers/inference/shadow.py); in immediate mode there is never a candidate.

A refused version or promotion is counted by reason, logged (rate-limited) and dead-lettered;
nothing a record holds can end the threads. Inference reads `slot.current` once per batch and
never waits for a reader.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queen.errors import WeightsError
from queen.model import QueenNN
from queen.weights import load_weights
from runtime.logs import RateLimit
from runtime.model_versions import Rejection, VersionCheck, newest_valid
from runtime.tail import TopicFollower
from schemas.codec import Codec
from schemas.enums import PromotionKind, ServingMode
from schemas.records import ModelVersion, Promotion

logger = logging.getLogger(__name__)

WEIGHT_REASONS = ("sha256", "architecture", "feature", "non-finite", "shape", "readable")


@dataclass(frozen=True)
class Served:
    """What inference uses: a version number and its model (never mutated)."""

    version: int
    model: QueenNN


class ModelSlot:
    """Holds the served model; `offer` loads a checked version and swaps it in."""

    def __init__(
        self, initial: QueenNN, metrics: Any = None, mode: ServingMode = ServingMode.IMMEDIATE
    ) -> None:
        """Serve version 0 (`initial`) until a valid version (or promotion) arrives."""
        self.current = Served(0, initial)
        self.candidate: Served | None = None  # newest loaded version not served (gated/manual)
        self.mode = mode
        self.metrics = metrics
        self.last_promotion_at = -1  # created_at of the last promotion applied
        self.withdrawn: set[int] = set()  # versions a rollback took out of serving
        # Reward times first trained on by the versions swapped in, until inference serves
        # them (a version swapped out before any decision hands its times to the next one).
        self._first_use: list[tuple[int, tuple[int, ...]]] = []
        self._lock = threading.Lock()
        self._log_limit = RateLimit(10.0)

    def take_first_use(self, served_version: int) -> list[int]:
        """Reward times of the versions up to `served_version` not taken yet, now taken."""
        with self._lock:
            taken = [t for v, times in self._first_use if v <= served_version for t in times]
            self._first_use = [(v, ts) for v, ts in self._first_use if v > served_version]
        return taken

    def offer(self, version: ModelVersion, now_us: int | None = None) -> bool:
        """Load `version` (already checked); swap it in (immediate) or make it the candidate.

        Return whether it was loaded.
        """
        if version.version <= self.current.version:
            self.reject(Rejection("stale", f"version {version.version} <= served"))
            return False
        if version.version in self.withdrawn:
            self.reject(Rejection("stale", f"version {version.version} was rolled back"))
            return False
        held = self.candidate
        if self.mode is not ServingMode.IMMEDIATE and held and version.version <= held.version:
            return False  # the newest candidate is kept; this one is not newer
        model = self._load(version)
        if model is None:
            return False
        self._remember_first_use(version)
        if self.mode is not ServingMode.IMMEDIATE:
            self.candidate = Served(version.version, model)  # one reference assignment
            if self.metrics is not None:
                self.metrics.candidate_version.set(version.version)
            return True
        self._swap(version, model, now_us)
        return True

    def apply(self, promotion: Promotion, version: ModelVersion) -> bool:
        """Serve the version a checked promotion carries; return whether it loaded."""
        model = self._load(version)
        if model is None:
            return False
        self.last_promotion_at = promotion.created_at
        if promotion.kind is PromotionKind.ROLLBACK and promotion.previous_version is not None:
            self.withdrawn.add(promotion.previous_version)
            del_below = sorted(self.withdrawn)[:-1000]  # bounded: the newest 1000 are kept
            self.withdrawn.difference_update(del_below)
        if self.metrics is not None:
            self.metrics.promotions_applied.labels(kind=str(promotion.kind)).inc()
        logger.info(
            "%s of model version %d (previous %s): %s",
            promotion.kind.value.lower(),
            version.version,
            promotion.previous_version,
            promotion.reason[:200],
            extra={"model_version": version.version},
        )
        held = self.candidate
        if held is not None and (held.version <= version.version or held.version in self.withdrawn):
            self.candidate = None  # served now, older than the served one, or rolled back
            if self.metrics is not None:
                self.metrics.candidate_version.set(0)
        if promotion.kind is PromotionKind.PROMOTE:  # a rollback's version was served before
            self._remember_first_use(version)
        self._swap(version, model, None)
        return True

    def reject_promotion(self, rejection: Rejection) -> None:
        """Count a refused promotion by reason; log it (at most once per 10 s per reason)."""
        if self.metrics is not None:
            self.metrics.promotions_rejected.labels(reason=rejection.reason).inc()
        held = self._log_limit.allow("promotion-" + rejection.reason)
        if held is not None:
            logger.warning(
                "promotion rejected (%s): %s (%d more held back)",
                rejection.reason,
                rejection,
                held,
            )

    def _load(self, version: ModelVersion) -> QueenNN | None:
        try:
            return load_weights(
                version.weights,
                version.sha256,
                version.architecture_fingerprint,
                version.feature_fingerprint,
            )
        except WeightsError as exc:
            self.reject(Rejection(_reason(str(exc)), f"version {version.version}: {exc}"))
            return None

    def _remember_first_use(self, version: ModelVersion) -> None:
        if version.training is None or not version.training.first_use_reward_emitted_at:
            return
        with self._lock:
            if any(v == version.version for v, _ in self._first_use):
                return
            self._first_use.append((version.version, version.training.first_use_reward_emitted_at))
            del self._first_use[:-100]  # versions never served keep at most 100 entries

    def _swap(self, version: ModelVersion, model: QueenNN, now_us: int | None) -> None:
        self.current = Served(version.version, model)  # one reference assignment
        if self.metrics is not None:
            self.metrics.versions_loaded.inc()
            self.metrics.served_version.set(version.version)
            now_us = time.time_ns() // 1000 if now_us is None else now_us
            self.metrics.hot_load_seconds.observe(max(0, now_us - version.created_at) / 1e6)
        logger.info(
            "serving model version %d", version.version, extra={"model_version": version.version}
        )

    def reject(self, rejection: Rejection) -> None:
        """Count a refused version by reason; log it (at most once per 10 s per reason)."""
        if self.metrics is not None:
            self.metrics.versions_rejected.labels(reason=rejection.reason).inc()
        if rejection.reason == "stale":
            return
        held = self._log_limit.allow(rejection.reason)
        if held is not None:
            logger.warning(
                "model version rejected (%s): %s (%d more held back)",
                rejection.reason,
                rejection,
                held,
            )


def _reason(message: str) -> str:
    for reason in WEIGHT_REASONS:
        if reason in message:
            return reason
    return "invalid"


class VersionReader(TopicFollower):
    """Follows the model-versions topic and offers the newest valid version of each batch."""

    def __init__(
        self,
        consumer: Any,
        topic: str,
        slot: ModelSlot,
        codec: Codec,
        check: VersionCheck,
        stop: threading.Event,
        dead_letters: Any = None,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        """Read `topic` with `consumer` (not in a group) until `stop` is set."""
        super().__init__(consumer, topic, stop, "model-version-reader")
        self.slot = slot
        self.codec = codec
        self.check = check
        self.dead_letters = dead_letters
        self.wall_us = wall_us

    def read_once(self, timeout: float = 0.1) -> bool:
        """Read one batch; swap in its newest valid version. True when one was swapped in."""
        messages = [m for m in self.consumer.consume(100, timeout) if m.error() is None]
        if not messages:
            return False
        best = newest_valid(
            messages,
            self.codec,
            self.check,
            self.slot.current.version,
            self.wall_us(),
            self._rejected,
        )
        return best is not None and self.slot.offer(best, self.wall_us())

    def _rejected(self, message: Any, rejection: Rejection) -> None:
        self.slot.reject(rejection)
        if self.dead_letters is not None:
            self.dead_letters.publish(message, rejection, rejection.kind)
