"""The loop's operational records: ModelVersion (with TrainingSummary) and DeadLetter.

Mirrors of model_version.avsc and dead_letter.avsc; `validate()` checks what Avro cannot say.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import (
    MAX_TIME,
    SHA256,
    each_non_negative,
    fail,
    finite,
    in_range,
    non_negative,
)
from schemas.enums import ERROR_KINDS, ErrorKind
from schemas.limits import DEFAULT_LIMITS, Limits, bounded_id

SIGNATURE_BYTES = 64  # an Ed25519 signature


@dataclass(frozen=True, slots=True)
class InputOffset:
    """A position in one partition of the experiences topic (TrainingSummary.input_offsets)."""

    partition: int
    offset: int

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {"partition": self.partition, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    """The training step that made a model version (ModelVersion.training)."""

    step: int
    loss: float
    batch_size: int
    learning_rate: float
    gate_agreement: float
    first_use_reward_emitted_at: tuple[int, ...] = ()
    input_topic_id: str = ""
    input_offsets: tuple[InputOffset, ...] = ()

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "TrainingSummary"
        if len(self.first_use_reward_emitted_at) > limits.max_first_use:
            n = len(self.first_use_reward_emitted_at)
            why = f"must hold at most {limits.max_first_use} values"
            raise fail(r, "first_use_reward_emitted_at", f"<{n} values>", why)
        each_non_negative(r, "first_use_reward_emitted_at", self.first_use_reward_emitted_at)
        bounded_id(r, "input_topic_id", self.input_topic_id, limits, empty=True)
        if len(self.input_offsets) > limits.max_partitions:
            why = f"must hold at most {limits.max_partitions} partitions"
            raise fail(r, "input_offsets", f"<{len(self.input_offsets)} entries>", why)
        for i, position in enumerate(self.input_offsets):
            in_range(r, f"input_offsets[{i}].partition", position.partition, 0, 2**31 - 1)
            in_range(r, f"input_offsets[{i}].offset", position.offset, 0, MAX_TIME)
        in_range(r, "step", self.step, 0, MAX_TIME)
        finite(r, "loss", self.loss)
        in_range(r, "batch_size", self.batch_size, 0, 2**31 - 1)
        non_negative("TrainingSummary", "learning_rate", self.learning_rate)
        in_range("TrainingSummary", "gate_agreement", self.gate_agreement, 0.0, 1.0)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "step": self.step,
            "loss": self.loss,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "gate_agreement": self.gate_agreement,
            "first_use_reward_emitted_at": list(self.first_use_reward_emitted_at),
            "input_topic_id": self.input_topic_id,
            "input_offsets": [p.to_avro() for p in self.input_offsets],
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> TrainingSummary:
        """Build the record from a fastavro dict."""
        return cls(
            d["step"],
            d["loss"],
            d["batch_size"],
            d["learning_rate"],
            d["gate_agreement"],
            tuple(d["first_use_reward_emitted_at"]),
            d["input_topic_id"],
            tuple(InputOffset(p["partition"], p["offset"]) for p in d["input_offsets"]),
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of the Queen's weights (model_version.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.ModelVersion"

    model_name: str
    version: int
    parent_version: int | None
    created_at: int
    weights: bytes
    sha256: str
    architecture_fingerprint: str
    feature_fingerprint: str
    training: TrainingSummary | None = None
    key_id: str | None = None
    signature: bytes | None = None

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "ModelVersion"
        for name in ("model_name", "architecture_fingerprint", "feature_fingerprint"):
            bounded_id(r, name, getattr(self, name), limits)
        if self.key_id is not None:
            bounded_id(r, "key_id", self.key_id, limits)
        in_range(r, "version", self.version, 0, MAX_TIME)
        if self.parent_version is not None:
            in_range(r, "parent_version", self.parent_version, 0, MAX_TIME)
        in_range(r, "created_at", self.created_at, 0, MAX_TIME)
        if not isinstance(self.sha256, str) or not SHA256.match(self.sha256):
            raise fail(r, "sha256", self.sha256, "must be 64 lowercase hex digits")
        if not isinstance(self.weights, bytes) or len(self.weights) > limits.max_weights_bytes:
            size = len(self.weights) if isinstance(self.weights, bytes) else self.weights
            raise fail(r, "weights", size, f"must be at most {limits.max_weights_bytes} bytes")
        if self.signature is not None and len(self.signature) != SIGNATURE_BYTES:
            why = f"must be {SIGNATURE_BYTES} bytes (Ed25519)"
            raise fail(r, "signature", f"<{len(self.signature)} bytes>", why)
        if self.training is not None:
            self.training.validate(limits)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "model_name": self.model_name,
            "version": self.version,
            "parent_version": self.parent_version,
            "created_at": self.created_at,
            "weights": self.weights,
            "sha256": self.sha256,
            "architecture_fingerprint": self.architecture_fingerprint,
            "feature_fingerprint": self.feature_fingerprint,
            "training": None if self.training is None else self.training.to_avro(),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> ModelVersion:
        """Build the record from a fastavro dict."""
        training = d["training"]
        return cls(
            d["model_name"],
            d["version"],
            d["parent_version"],
            d["created_at"],
            d["weights"],
            d["sha256"],
            d["architecture_fingerprint"],
            d["feature_fingerprint"],
            None if training is None else TrainingSummary.from_avro(training),
            d["key_id"],
            d["signature"],
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input record a service could not process, with the reason (dead_letter.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.DeadLetter"

    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error_kind: ErrorKind
    message: str
    service: str
    failed_at: int

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        bounded_id("DeadLetter", "service", self.service, limits)
        if len(self.source_topic) > 255:  # Kafka's own limit on topic names (249)
            raise fail("DeadLetter", "source_topic", self.source_topic[:40], "too long")
        if len(self.message) > limits.max_message_length:
            why = f"must hold at most {limits.max_message_length} characters"
            raise fail("DeadLetter", "message", f"<{len(self.message)} characters>", why)
        if not isinstance(self.error_kind, ErrorKind):
            raise fail("DeadLetter", "error_kind", self.error_kind, "must be an ErrorKind")

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "error_kind": self.error_kind,
            "message": self.message,
            "service": self.service,
            "failed_at": self.failed_at,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> DeadLetter:
        """Build the record from a fastavro dict."""
        return cls(
            d["source_topic"],
            d["partition"],
            d["offset"],
            d["key"],
            d["value"],
            ERROR_KINDS[d["error_kind"]],
            d["message"],
            d["service"],
            d["failed_at"],
        )
