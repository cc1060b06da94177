"""What the promoter knows of versions: the verified ones seen, and what is served.

`VersionFollower` reads queen.model-versions from the beginning (no group) and keeps the newest
`keep` verified versions by arrival, each loaded (the checks of runtime/model_versions.py, then
queen.weights). `ServedView` is the PromotionSink of the promoter's own PromotionReader: the
served version and the one served before it, as the promotions on the topic say (the
promoter's own, read back, and the CLI's), and the versions rollbacks withdrew.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from consumers.promoter.handler import Known
from queen.errors import WeightsError
from queen.model import QueenNN
from queen.weights import load_weights
from runtime.model_versions import Rejection, VersionCheck
from runtime.tail import assign_from_beginning
from schemas.codec import Codec
from schemas.enums import PromotionKind
from schemas.errors import SchemaError
from schemas.records import ModelVersion, Promotion

logger = logging.getLogger(__name__)


def load(record: ModelVersion) -> QueenNN | None:
    """The model of a checked version, or None when its weights are refused (logged)."""
    try:
        return load_weights(
            record.weights,
            record.sha256,
            record.architecture_fingerprint,
            record.feature_fingerprint,
        )
    except WeightsError as exc:
        logger.warning("version %d: weights refused: %s", record.version, exc)
        return None


class VersionStore:
    """The newest `keep` verified versions by arrival (thread-safe)."""

    def __init__(self, keep: int) -> None:
        """Keep `keep` versions."""
        self._known: deque[Known] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, known: Known) -> None:
        """Remember a verified version (again: moved to the newest arrival)."""
        with self._lock:
            for old in [k for k in self._known if k.record.version == known.record.version]:
                self._known.remove(old)
            self._known.append(known)

    def arrived(self) -> list[Known]:
        """The versions kept, oldest arrival first."""
        with self._lock:
            return list(self._known)


class VersionFollower(threading.Thread):
    """Follows queen.model-versions into a VersionStore."""

    def __init__(
        self,
        consumer: Any,
        topic: str,
        store: VersionStore,
        codec: Codec,
        check: VersionCheck,
        stop: threading.Event,
        on_reject: Callable[[str], None] = lambda reason: None,
    ) -> None:
        """Read `topic` with `consumer` (not in a group) until `stop` is set."""
        super().__init__(name="promoter-version-follower", daemon=True)
        self.consumer, self.topic, self.store = consumer, topic, store
        self.codec, self.check, self.stop, self.on_reject = codec, check, stop, on_reject

    def run(self) -> None:
        """Keep every verified version read (the newest `keep`)."""
        assign_from_beginning(self.consumer, self.topic)
        try:
            while not self.stop.is_set():
                try:
                    self.read_once()
                except Exception:  # outlives anything a record holds
                    logger.exception("version follower: batch failed; reading on")
                    self.stop.wait(0.5)
        finally:
            self.consumer.close()

    def read_once(self, timeout: float = 0.1) -> int:
        """Read one batch; return how many versions were kept."""
        kept = 0
        now = time.time_ns() // 1000
        for message in self.consumer.consume(100, timeout):
            if message.error() is not None:
                continue
            try:
                record = self.codec.decode(message.value() or b"", ModelVersion)
                self.check.check(record, -1, now)
            except SchemaError:
                self.on_reject("undecodable")
                continue
            except Rejection as rejection:
                self.on_reject(rejection.reason)
                continue
            model = load(record)
            if model is None:
                self.on_reject("invalid")
                continue
            self.store.add(Known(record, model))
            kept += 1
        return kept


class ServedView:
    """What is served, as the valid promotions read back say (a PromotionSink)."""

    def __init__(self, store: VersionStore, initial: Known, metrics: Any = None) -> None:
        """Version 0 (`initial`) is served until a promotion says otherwise."""
        self.store = store
        self.metrics = metrics
        self.last_promotion_at = -1
        self._served: Known | None = initial
        self._previous: Known | None = None
        self._withdrawn: set[int] = set()
        self._lock = threading.Lock()

    def apply(self, promotion: Promotion, version: ModelVersion) -> bool:
        """Take note of a checked promotion: its version is served now."""
        model = load(version)
        if model is None:
            return False
        known = Known(version, model)
        with self._lock:
            if promotion.kind is PromotionKind.ROLLBACK:
                if promotion.previous_version is not None:
                    self._withdrawn.add(promotion.previous_version)
                self._previous = None  # a rollback is not rolled back in turn
            elif self._served is None or self._served.record.version != version.version:
                self._previous = self._served
            self._served = known
            self.last_promotion_at = promotion.created_at
        return True

    def reject_promotion(self, rejection: Rejection) -> None:
        """Count a refused promotion."""
        if self.metrics is not None:
            self.metrics.promotions_rejected.labels(reason=rejection.reason).inc()

    def served(self) -> tuple[Known | None, Known | None]:
        """(served, served before it)."""
        with self._lock:
            return self._served, self._previous

    def withdrawn(self) -> set[int]:
        """Versions rollbacks withdrew."""
        with self._lock:
            return set(self._withdrawn)


class Seen:
    """The handler's view (handler.Versions): the store's arrivals and the served view."""

    def __init__(self, store: VersionStore, view: ServedView) -> None:
        """Combine `store` and `view`."""
        self.store, self.view = store, view

    def arrived(self) -> list[Known]:
        """The verified versions kept, oldest arrival first."""
        return self.store.arrived()

    def served(self) -> tuple[Known | None, Known | None]:
        """(served, served before it)."""
        return self.view.served()

    def withdrawn(self) -> set[int]:
        """Versions rollbacks withdrew."""
        return self.view.withdrawn()

    def last_promotion_at(self) -> int:
        """created_at of the last promotion read back."""
        return self.view.last_promotion_at
