"""The game's events as typed records: Observation, Action, Shadow, Decision.

Mirrors of observation.avsc and decision.avsc (field names and order are Avro's); `validate()`
checks what Avro cannot say. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import (
    MAX_TIME,
    N_ACTIONS,
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
)
from schemas.enums import (
    GATE_DECISIONS,
    SPAWN_TYPES,
    GateDecision,
    SpawnType,
)
from schemas.limits import DEFAULT_LIMITS, Limits, bounded_id


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
    epoch: str = ""

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract.

        The common case is two passes in C over every number; the field-by-field checks run
        only to name the value that failed.
        """
        n = limits.max_id_length
        if (
            0 < len(self.observation_id) <= n
            and 0 < len(self.territory_id) <= n
            and len(self.epoch) <= n
            and 0 <= self.seq <= limits.max_seq
            and all_within((self.event_time, self.emitted_at), MAX_TIME)
            and len(self.chunk_threat) == len(self.chunk_units) == N_CHUNKS
            and len(self.unit_counts) == N_SPAWN_TYPES
            and len(self.new_threat) in (0, N_CHUNKS)
            and all_within((self.resources, self.income, self.upkeep), limits.max_amount)
            and all_within(
                (self.units_lost, *self.chunk_units, *self.unit_counts), limits.max_count
            )
            and all_within((self.base_health, *self.chunk_threat, *self.new_threat), 1.0)
        ):
            return
        self._name_the_failure(limits)

    def _name_the_failure(self, limits: Limits) -> None:
        r = "Observation"
        bounded_id(r, "observation_id", self.observation_id, limits)
        bounded_id(r, "territory_id", self.territory_id, limits)
        bounded_id(r, "epoch", self.epoch, limits, empty=True)
        in_range(r, "seq", self.seq, 0, limits.max_seq)
        in_range(r, "event_time", self.event_time, 0, MAX_TIME)
        in_range(r, "emitted_at", self.emitted_at, 0, MAX_TIME)
        for name in ("resources", "income", "upkeep"):
            in_range(r, name, getattr(self, name), 0.0, limits.max_amount)
        in_range(r, "base_health", self.base_health, 0.0, 1.0)
        in_range(r, "units_lost", self.units_lost, 0, limits.max_count)
        length(r, "chunk_threat", self.chunk_threat, N_CHUNKS)
        length(r, "chunk_units", self.chunk_units, N_CHUNKS)
        length(r, "unit_counts", self.unit_counts, N_SPAWN_TYPES)
        each_non_negative(r, "chunk_threat", self.chunk_threat, 1.0)
        each_non_negative(r, "chunk_units", self.chunk_units, limits.max_count)
        each_non_negative(r, "unit_counts", self.unit_counts, limits.max_count)
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
            "epoch": self.epoch,
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
            d["epoch"],
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


PROBABILITY_SUM_TOLERANCE = 1e-4  # |sum - 1| allowed of Shadow.probabilities (float32 each)


@dataclass(frozen=True, slots=True)
class Shadow:
    """The candidate model's scoring of a decision's features, not acted on (Decision.shadow)."""

    model_version: int
    action: Action
    probabilities: tuple[float, ...]

    def ok(self) -> bool:
        """True when every value is within the contract (a few passes in C)."""
        probabilities = self.probabilities
        return (
            len(probabilities) == N_ACTIONS
            and all_within((self.model_version,), MAX_TIME)
            and all_within(probabilities, 1.0)
            and abs(sum(probabilities) - 1.0) <= PROBABILITY_SUM_TOLERANCE
            and isinstance(self.action.spawn_type, SpawnType)
            and type(self.action.spawn_chunk) is int
            and 0 <= self.action.spawn_chunk < N_CHUNKS
        )

    def validate(self) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        if self.ok():
            return
        r = "Decision.shadow"
        in_range(r, "model_version", self.model_version, 0, MAX_TIME)
        self.action.validate()
        length(r, "probabilities", self.probabilities, N_ACTIONS)
        each_non_negative(r, "probabilities", self.probabilities, 1.0)
        total = sum(self.probabilities)
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise fail(r, "probabilities", f"<sum {total!r}>", "must sum to 1 (within 1e-4)")
        raise fail(r, "action", self.action, "must be an Action with an int spawn_chunk")

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "model_version": self.model_version,
            "action": self.action.to_avro(),
            "probabilities": list(self.probabilities),
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Shadow:
        """Build the record from a fastavro dict."""
        return cls(d["model_version"], Action.from_avro(d["action"]), tuple(d["probabilities"]))


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
    epoch: str = ""
    shadow: Shadow | None = None  # the candidate's scoring, never acted on; None: no candidate

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract.

        The common case is a few passes in C; the field-by-field checks run only to name the
        value that failed.
        """
        n = limits.max_id_length
        if (
            0 < len(self.decision_id) <= n
            and 0 < len(self.observation_id) <= n
            and 0 < len(self.territory_id) <= n
            and len(self.epoch) <= n
            and 0 < len(self.gate_version) <= n
            and len(self.features) == N_FEATURES
            and 0 <= self.seq <= limits.max_seq
            and all_within(
                (self.event_time, self.observation_emitted_at, self.decided_at, self.model_version),
                MAX_TIME,
            )
            and all_within((self.seq, self.confidence))
            and all_within(self.features, 1.0)
            and all_finite((self.action_probability, self.expected_reward))
            and abs(self.expected_reward) <= limits.max_abs_reward
            and 0.0 < self.action_probability <= 1.0
            and self.confidence <= 1.0
            and isinstance(self.gate_decision, GateDecision)
            and isinstance(self.action.spawn_type, SpawnType)
            and type(self.action.spawn_chunk) is int
            and 0 <= self.action.spawn_chunk < N_CHUNKS
            and (self.shadow is None or type(self.shadow) is Shadow and self.shadow.ok())
        ):
            return
        self._name_the_failure(limits)

    def _name_the_failure(self, limits: Limits) -> None:
        r = "Decision"
        for name in ("decision_id", "observation_id", "territory_id", "gate_version"):
            bounded_id(r, name, getattr(self, name), limits)
        bounded_id(r, "epoch", self.epoch, limits, empty=True)
        in_range(r, "seq", self.seq, 0, limits.max_seq)
        for name in ("event_time", "observation_emitted_at", "decided_at"):
            in_range(r, name, getattr(self, name), 0, MAX_TIME)
        in_range(r, "model_version", self.model_version, 0, MAX_TIME)
        length(r, "features", self.features, N_FEATURES)
        each_finite(r, "features", self.features)
        each_non_negative(r, "features", self.features, 1.0)
        self.action.validate()
        finite(r, "action_probability", self.action_probability)
        if not 0.0 < self.action_probability <= 1.0:
            raise fail(r, "action_probability", self.action_probability, "must be in (0, 1]")
        in_range(r, "confidence", self.confidence, 0.0, 1.0)
        bound = limits.max_abs_reward
        in_range(r, "expected_reward", self.expected_reward, -bound, bound)
        if not isinstance(self.gate_decision, GateDecision):
            raise fail(r, "gate_decision", self.gate_decision, "must be a GateDecision")
        if self.shadow is not None:
            if not isinstance(self.shadow, Shadow):
                raise fail(r, "shadow", self.shadow, "must be a Shadow or None")
            self.shadow.validate()

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
            "epoch": self.epoch,
            "shadow": None if self.shadow is None else self.shadow.to_avro(),
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
            d["epoch"],
            None if d["shadow"] is None else Shadow.from_avro(d["shadow"]),
        )
