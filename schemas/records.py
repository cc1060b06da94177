"""Typed records mirroring schemas/v1/*.avsc one to one, with the checks Avro cannot express.

Field names and order are the Avro ones. Arrays are tuples, maps are dicts, timestamps are plain
ints (milliseconds or microseconds since the epoch, as each field's doc says), enums are the
str-enums of schemas.enums. `validate()` raises InvalidRecord naming the field and the value.
`to_avro()` / `from_avro()` convert explicitly to and from fastavro's dicts.
Imports no Kafka client and no torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.enums import DecisionStatus, ErrorKind, GateDecision, RewardSource, SpawnType
from schemas.errors import InvalidRecord

N_CHUNKS = 8
N_SPAWN_TYPES = 4
N_FEATURES = 28

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _fail(record: str, name: str, value: Any, why: str) -> InvalidRecord:
    return InvalidRecord(f"{record}.{name}={value!r}: {why}")


def _finite(record: str, name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(record, name, value, "must be a number")
    if not math.isfinite(value):
        raise _fail(record, name, value, "must be a finite number")


def _in_range(record: str, name: str, value: float, low: float, high: float) -> None:
    _finite(record, name, value)
    if not low <= value <= high:
        raise _fail(record, name, value, f"must be in [{low}, {high}]")


def _non_negative(record: str, name: str, value: float) -> None:
    _finite(record, name, value)
    if value < 0:
        raise _fail(record, name, value, "must be >= 0")


def _length(record: str, name: str, values: tuple[Any, ...], n: int) -> None:
    if len(values) != n:
        raise _fail(record, name, values, f"must hold {n} values, holds {len(values)}")


@dataclass(frozen=True, slots=True)
class Observation:
    """Raw game state of one territory at tick `seq` (observation.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Observation"

    observation_id: str
    territory_id: str
    seq: int
    event_time: int
    emitted_at: int
    rules_version: int
    resources: float
    income: float
    upkeep: float
    base_health: float
    units_lost: int
    chunk_threat: tuple[float, ...]
    chunk_units: tuple[int, ...]
    unit_counts: tuple[int, ...]
    new_threat: tuple[float, ...] = ()

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "Observation"
        _non_negative(r, "seq", self.seq)
        for name in ("resources", "income", "upkeep"):
            _non_negative(r, name, getattr(self, name))
        _in_range(r, "base_health", self.base_health, 0.0, 1.0)
        _non_negative(r, "units_lost", self.units_lost)
        _length(r, "chunk_threat", self.chunk_threat, N_CHUNKS)
        _length(r, "chunk_units", self.chunk_units, N_CHUNKS)
        _length(r, "unit_counts", self.unit_counts, N_SPAWN_TYPES)
        for i, threat in enumerate(self.chunk_threat):
            _in_range(r, f"chunk_threat[{i}]", threat, 0.0, 1.0)
        for i, count in enumerate(self.chunk_units):
            _non_negative(r, f"chunk_units[{i}]", count)
        for i, count in enumerate(self.unit_counts):
            _non_negative(r, f"unit_counts[{i}]", count)
        if self.new_threat:
            _length(r, "new_threat", self.new_threat, N_CHUNKS)
        for i, threat in enumerate(self.new_threat):
            _in_range(r, f"new_threat[{i}]", threat, 0.0, 1.0)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "observation_id": self.observation_id,
            "territory_id": self.territory_id,
            "seq": self.seq,
            "event_time": self.event_time,
            "emitted_at": self.emitted_at,
            "rules_version": self.rules_version,
            "resources": self.resources,
            "income": self.income,
            "upkeep": self.upkeep,
            "base_health": self.base_health,
            "units_lost": self.units_lost,
            "chunk_threat": list(self.chunk_threat),
            "chunk_units": list(self.chunk_units),
            "unit_counts": list(self.unit_counts),
            "new_threat": list(self.new_threat),
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Observation:
        """Build the record from a fastavro dict."""
        return cls(
            d["observation_id"],
            d["territory_id"],
            d["seq"],
            d["event_time"],
            d["emitted_at"],
            d["rules_version"],
            d["resources"],
            d["income"],
            d["upkeep"],
            d["base_health"],
            d["units_lost"],
            tuple(d["chunk_threat"]),
            tuple(d["chunk_units"]),
            tuple(d["unit_counts"]),
            tuple(d["new_threat"]),
        )


@dataclass(frozen=True, slots=True)
class Action:
    """Where and what to spawn (Decision.action)."""

    spawn_chunk: int
    spawn_type: SpawnType

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        if not 0 <= self.spawn_chunk < N_CHUNKS:
            raise _fail("Action", "spawn_chunk", self.spawn_chunk, f"must be in 0..{N_CHUNKS - 1}")
        if not isinstance(self.spawn_type, SpawnType):
            raise _fail("Action", "spawn_type", self.spawn_type, "must be a SpawnType")

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {"spawn_chunk": self.spawn_chunk, "spawn_type": self.spawn_type.value}

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Action:
        """Build the record from a fastavro dict."""
        return cls(d["spawn_chunk"], SpawnType(d["spawn_type"]))


@dataclass(frozen=True, slots=True)
class Decision:
    """What inference decided for one observation (decision.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Decision"

    decision_id: str
    observation_id: str
    territory_id: str
    seq: int
    event_time: int
    observation_emitted_at: int
    decided_at: int
    rules_version: int
    model_version: int
    features: tuple[float, ...]
    action: Action
    action_probability: float
    confidence: float
    gate_decision: GateDecision
    expected_reward: float
    gate_version: str

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "Decision"
        _non_negative(r, "seq", self.seq)
        _non_negative(r, "model_version", self.model_version)
        _length(r, "features", self.features, N_FEATURES)
        for i, value in enumerate(self.features):
            _finite(r, f"features[{i}]", value)
        self.action.validate()
        _finite(r, "action_probability", self.action_probability)
        if not 0.0 < self.action_probability <= 1.0:
            raise _fail(r, "action_probability", self.action_probability, "must be in (0, 1]")
        _in_range(r, "confidence", self.confidence, 0.0, 1.0)
        _finite(r, "expected_reward", self.expected_reward)
        if not isinstance(self.gate_decision, GateDecision):
            raise _fail(r, "gate_decision", self.gate_decision, "must be a GateDecision")

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "decision_id": self.decision_id,
            "observation_id": self.observation_id,
            "territory_id": self.territory_id,
            "seq": self.seq,
            "event_time": self.event_time,
            "observation_emitted_at": self.observation_emitted_at,
            "decided_at": self.decided_at,
            "rules_version": self.rules_version,
            "model_version": self.model_version,
            "features": list(self.features),
            "action": self.action.to_avro(),
            "action_probability": self.action_probability,
            "confidence": self.confidence,
            "gate_decision": self.gate_decision.value,
            "expected_reward": self.expected_reward,
            "gate_version": self.gate_version,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Decision:
        """Build the record from a fastavro dict."""
        return cls(
            d["decision_id"],
            d["observation_id"],
            d["territory_id"],
            d["seq"],
            d["event_time"],
            d["observation_emitted_at"],
            d["decided_at"],
            d["rules_version"],
            d["model_version"],
            tuple(d["features"]),
            Action.from_avro(d["action"]),
            d["action_probability"],
            d["confidence"],
            GateDecision(d["gate_decision"]),
            d["expected_reward"],
            d["gate_version"],
        )


@dataclass(frozen=True, slots=True)
class Reward:
    """Outcome of tick `seq` for one territory, observed at `seq + 1` (reward.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Reward"

    territory_id: str
    seq: int
    event_time: int
    emitted_at: int
    rules_version: int
    reward: float
    components: dict[str, float]
    decision_id: str | None = None
    decision_status: DecisionStatus = DecisionStatus.MISSING

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        _non_negative("Reward", "seq", self.seq)
        _finite("Reward", "reward", self.reward)
        for name, value in self.components.items():
            _finite("Reward", f"components[{name!r}]", value)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "territory_id": self.territory_id,
            "seq": self.seq,
            "event_time": self.event_time,
            "emitted_at": self.emitted_at,
            "rules_version": self.rules_version,
            "reward": self.reward,
            "components": dict(self.components),
            "decision_id": self.decision_id,
            "decision_status": self.decision_status.value,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Reward:
        """Build the record from a fastavro dict."""
        return cls(
            d["territory_id"],
            d["seq"],
            d["event_time"],
            d["emitted_at"],
            d["rules_version"],
            d["reward"],
            dict(d["components"]),
            d["decision_id"],
            DecisionStatus(d["decision_status"]),
        )


@dataclass(frozen=True, slots=True)
class Experience:
    """A decision joined with its reward: one training sample (experience.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Experience"

    decision: Decision
    reward: float
    reward_components: dict[str, float]
    reward_source: RewardSource
    decision_status: DecisionStatus
    reward_emitted_at: int | None
    joined_at: int
    join_latency_ms: int

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        self.decision.validate()
        _finite("Experience", "reward", self.reward)
        for name, value in self.reward_components.items():
            _finite("Experience", f"reward_components[{name!r}]", value)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "decision": self.decision.to_avro(),
            "reward": self.reward,
            "reward_components": dict(self.reward_components),
            "reward_source": self.reward_source.value,
            "decision_status": self.decision_status.value,
            "reward_emitted_at": self.reward_emitted_at,
            "joined_at": self.joined_at,
            "join_latency_ms": self.join_latency_ms,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Experience:
        """Build the record from a fastavro dict."""
        return cls(
            Decision.from_avro(d["decision"]),
            d["reward"],
            dict(d["reward_components"]),
            RewardSource(d["reward_source"]),
            DecisionStatus(d["decision_status"]),
            d["reward_emitted_at"],
            d["joined_at"],
            d["join_latency_ms"],
        )


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    """The training step that made a model version (ModelVersion.training)."""

    step: int
    loss: float
    batch_size: int
    learning_rate: float
    gate_agreement: float

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        _non_negative("TrainingSummary", "step", self.step)
        _finite("TrainingSummary", "loss", self.loss)
        _non_negative("TrainingSummary", "batch_size", self.batch_size)
        _non_negative("TrainingSummary", "learning_rate", self.learning_rate)
        _in_range("TrainingSummary", "gate_agreement", self.gate_agreement, 0.0, 1.0)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "step": self.step,
            "loss": self.loss,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "gate_agreement": self.gate_agreement,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> TrainingSummary:
        """Build the record from a fastavro dict."""
        return cls(d["step"], d["loss"], d["batch_size"], d["learning_rate"], d["gate_agreement"])


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
        _non_negative("ModelVersion", "version", self.version)
        if not _SHA256.match(self.sha256):
            raise _fail("ModelVersion", "sha256", self.sha256, "must be 64 lowercase hex digits")
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
            raise _fail("DeadLetter", "error_kind", self.error_kind, "must be an ErrorKind")

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "error_kind": self.error_kind.value,
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
            ErrorKind(d["error_kind"]),
            d["message"],
            d["service"],
            d["failed_at"],
        )


Record = Observation | Decision | Reward | Experience | ModelVersion | DeadLetter

RECORD_TYPES: tuple[type[Record], ...] = (
    Observation,
    Decision,
    Reward,
    Experience,
    ModelVersion,
    DeadLetter,
)
