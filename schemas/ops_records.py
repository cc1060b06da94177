"""The loop's operational records: ModelVersion (with TrainingSummary) and DeadLetter.

Mirrors of model_version.avsc and dead_letter.avsc; `validate()` checks what Avro cannot say.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import SHA256, each_non_negative, fail, finite, in_range, non_negative
from schemas.enums import ERROR_KINDS, ErrorKind


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    """The training step that made a model version (ModelVersion.training)."""

    step: int
    loss: float
    batch_size: int
    learning_rate: float
    gate_agreement: float
    first_use_reward_emitted_at: tuple[int, ...] = ()

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        each_non_negative(
            "TrainingSummary", "first_use_reward_emitted_at", self.first_use_reward_emitted_at
        )
        non_negative("TrainingSummary", "step", self.step)
        finite("TrainingSummary", "loss", self.loss)
        non_negative("TrainingSummary", "batch_size", self.batch_size)
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

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        non_negative("ModelVersion", "version", self.version)
        if not SHA256.match(self.sha256):
            raise fail("ModelVersion", "sha256", self.sha256, "must be 64 lowercase hex digits")
        if self.training is not None:
            self.training.validate()

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

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
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
