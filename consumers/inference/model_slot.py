"""The served model: an immutable (version, model) pair swapped by one reference assignment.

A background thread follows the model-versions topic from the beginning (no consumer group:
every instance reads it whole), validates each version (sha256, architecture and feature
fingerprints, finite weights, newer than the one served), builds the model aside and swaps it
in. Inference reads `slot.current` once per batch and never waits for the reader.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from queen.errors import WeightsError
from queen.model import QueenNN
from queen.weights import load_weights
from runtime.tail import assign_from_beginning
from schemas.codec import Codec
from schemas.errors import SchemaError
from schemas.records import ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """What inference uses: a version number and its model (never mutated)."""

    version: int
    model: QueenNN


class ModelSlot:
    """Holds the served model; `offer` validates and swaps in a newer version."""

    def __init__(self, initial: QueenNN, metrics: Any = None) -> None:
        """Serve version 0 (`initial`) until a valid version arrives."""
        self.current = Served(0, initial)
        self.metrics = metrics
        # Reward times first trained on by the versions swapped in, until inference serves
        # them (a version swapped out before any decision hands its times to the next one).
        self._first_use: list[tuple[int, tuple[int, ...]]] = []
        self._lock = threading.Lock()

    def take_first_use(self, served_version: int) -> list[int]:
        """Reward times of the versions up to `served_version` not taken yet, now taken."""
        with self._lock:
            taken = [t for v, times in self._first_use if v <= served_version for t in times]
            self._first_use = [(v, ts) for v, ts in self._first_use if v > served_version]
        return taken

    def offer(self, version: ModelVersion, now_us: int | None = None) -> bool:
        """Swap in `version` when it is newer and valid; return whether it was."""
        if version.version <= self.current.version:
            self._reject("stale", f"version {version.version} <= served {self.current.version}")
            return False
        try:
            model = load_weights(
                version.weights,
                version.sha256,
                version.architecture_fingerprint,
                version.feature_fingerprint,
            )
        except WeightsError as exc:
            self._reject(_reason(str(exc)), f"version {version.version}: {exc}")
            return False
        if version.training is not None and version.training.first_use_reward_emitted_at:
            with self._lock:
                self._first_use.append(
                    (version.version, version.training.first_use_reward_emitted_at)
                )
        self.current = Served(version.version, model)  # one reference assignment
        if self.metrics is not None:
            self.metrics.versions_loaded.inc()
            self.metrics.served_version.set(version.version)
            now_us = time.time_ns() // 1000 if now_us is None else now_us
            self.metrics.hot_load_seconds.observe(max(0, now_us - version.created_at) / 1e6)
        logger.info("serving model version %d", version.version)
        return True

    def _reject(self, reason: str, message: str) -> None:
        if self.metrics is not None:
            self.metrics.versions_rejected.labels(reason=reason).inc()
        if reason != "stale":
            logger.warning("model version rejected (%s): %s", reason, message)


def _reason(message: str) -> str:
    for reason in ("sha256", "architecture", "feature", "non-finite", "shape", "readable"):
        if reason in message:
            return reason
    return "invalid"


class VersionReader(threading.Thread):
    """Follows the model-versions topic and offers every version to the slot."""

    def __init__(
        self, consumer: Any, topic: str, slot: ModelSlot, codec: Codec, stop: threading.Event
    ) -> None:
        """Read `topic` with `consumer` (not in a group) until `stop` is set."""
        super().__init__(name="model-version-reader", daemon=True)
        self.consumer, self.topic, self.slot, self.codec, self.stop = (
            consumer,
            topic,
            slot,
            codec,
            stop,
        )

    def run(self) -> None:
        """Assign from the beginning, then offer each version as it comes."""
        assign_from_beginning(self.consumer, self.topic)
        try:
            while not self.stop.is_set():
                for message in self.consumer.consume(100, 0.1):
                    if message.error() is not None:
                        continue
                    try:
                        version = self.codec.decode(message.value() or b"", ModelVersion)
                    except SchemaError as exc:
                        self.slot._reject("undecodable", str(exc))
                        continue
                    self.slot.offer(version)
        finally:
            self.consumer.close()
