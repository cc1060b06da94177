"""The game's events as typed records: Observation, Action, Decision, Reward, Experience.

Mirrors of observation.avsc, decision.avsc, reward.avsc and experience.avsc (field names and
order are Avro's); `validate()` checks what Avro cannot say. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import (
    N_CHUNKS,
    N_FEATURES,
    N_SPAWN_TYPES,
    all_finite,
    all_within,
    each_finite,
    each_non_negative,
    fail,
    finite,
    in_range,
    length,
    non_negative,
)
from schemas.enums import (
    DECISION_STATUSES,
    GATE_DECISIONS,
    REWARD_SOURCES,
    SPAWN_TYPES,
    DecisionStatus,
    GateDecision,
    RewardSource,
    SpawnType,
)


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
        """Raise InvalidRecord when a value is outside the contract.

        The common case is two passes in C over every number; the field-by-field checks run
        only to name the value that failed.
        """
        if (
            len(self.chunk_threat) == len(self.chunk_units) == N_CHUNKS
            and len(self.unit_counts) == N_SPAWN_TYPES
            and len(self.new_threat) in (0, N_CHUNKS)
            and all_within(
                (
                    self.seq,
                    self.resources,
                    self.income,
                    self.upkeep,
                    self.units_lost,
                    *self.chunk_units,
                    *self.unit_counts,
                )
            )
            and all_within((self.base_health, *self.chunk_threat, *self.new_threat), 1.0)
        ):
            return
        self._name_the_failure()

    def _name_the_failure(self) -> None:
        r = "Observation"
        non_negative(r, "seq", self.seq)
        for name in ("resources", "income", "upkeep"):
            non_negative(r, name, getattr(self, name))
        in_range(r, "base_health", self.base_health, 0.0, 1.0)
        non_negative(r, "units_lost", self.units_lost)
        length(r, "chunk_threat", self.chunk_threat, N_CHUNKS)
        length(r, "chunk_units", self.chunk_units, N_CHUNKS)
        length(r, "unit_counts", self.unit_counts, N_SPAWN_TYPES)
        each_non_negative(r, "chunk_threat", self.chunk_threat, 1.0)
        each_non_negative(r, "chunk_units", self.chunk_units)
        each_non_negative(r, "unit_counts", self.unit_counts)
        if self.new_threat:
            length(r, "new_threat", self.new_threat, N_CHUNKS)
            each_non_negative(r, "new_threat", self.new_threat, 1.0)

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
            raise fail("Action", "spawn_chunk", self.spawn_chunk, f"must be in 0..{N_CHUNKS - 1}")
        if not isinstance(self.spawn_type, SpawnType):
            raise fail("Action", "spawn_type", self.spawn_type, "must be a SpawnType")

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {"spawn_chunk": self.spawn_chunk, "spawn_type": self.spawn_type}

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Action:
        """Build the record from a fastavro dict."""
        return cls(d["spawn_chunk"], SPAWN_TYPES[d["spawn_type"]])


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
        """Raise InvalidRecord when a value is outside the contract.

        The common case is a few passes in C; the field-by-field checks run only to name the
        value that failed.
        """
        if (
            len(self.features) == N_FEATURES
            and all_within((self.seq, self.model_version, self.confidence))
            and all_finite((self.action_probability, self.expected_reward, *self.features))
            and 0.0 < self.action_probability <= 1.0
            and self.confidence <= 1.0
            and isinstance(self.gate_decision, GateDecision)
            and isinstance(self.action.spawn_type, SpawnType)
            and type(self.action.spawn_chunk) is int
            and 0 <= self.action.spawn_chunk < N_CHUNKS
        ):
            return
        self._name_the_failure()

    def _name_the_failure(self) -> None:
        r = "Decision"
        non_negative(r, "seq", self.seq)
        non_negative(r, "model_version", self.model_version)
        length(r, "features", self.features, N_FEATURES)
        each_finite(r, "features", self.features)
        self.action.validate()
        finite(r, "action_probability", self.action_probability)
        if not 0.0 < self.action_probability <= 1.0:
            raise fail(r, "action_probability", self.action_probability, "must be in (0, 1]")
        in_range(r, "confidence", self.confidence, 0.0, 1.0)
        finite(r, "expected_reward", self.expected_reward)
        if not isinstance(self.gate_decision, GateDecision):
            raise fail(r, "gate_decision", self.gate_decision, "must be a GateDecision")

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
            "gate_decision": self.gate_decision,
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
            GATE_DECISIONS[d["gate_decision"]],
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
        if all_within((self.seq,)) and all_finite((self.reward, *self.components.values())):
            return
        non_negative("Reward", "seq", self.seq)
        finite("Reward", "reward", self.reward)
        for name, value in self.components.items():
            finite("Reward", f"components[{name!r}]", value)

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
            "decision_status": self.decision_status,
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
            DECISION_STATUSES[d["decision_status"]],
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
        if all_finite((self.reward, *self.reward_components.values())):
            return
        finite("Experience", "reward", self.reward)
        for name, value in self.reward_components.items():
            finite("Experience", f"reward_components[{name!r}]", value)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "decision": self.decision.to_avro(),
            "reward": self.reward,
            "reward_components": dict(self.reward_components),
            "reward_source": self.reward_source,
            "decision_status": self.decision_status,
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
            REWARD_SOURCES[d["reward_source"]],
            DECISION_STATUSES[d["decision_status"]],
            d["reward_emitted_at"],
            d["joined_at"],
            d["join_latency_ms"],
        )
