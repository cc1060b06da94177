"""The Avro enums of the contract, as Python enums whose values are the Avro symbols.

Imports nothing but the standard library (no Kafka, no torch).
"""

import enum
from typing import TypeVar

E = TypeVar("E", bound=enum.Enum)


def by_symbol(enum_type: type[E]) -> dict[str, E]:
    """Symbol -> member. Decoding looks members up here: calling the enum costs ~10x more."""
    return {member.value: member for member in enum_type}


class SpawnType(enum.StrEnum):
    """Kind of unit the Queen spawns (Action.spawn_type)."""

    WORKER = "WORKER"
    SOLDIER = "SOLDIER"
    SCOUT = "SCOUT"
    GUARD = "GUARD"


class GateDecision(enum.StrEnum):
    """The simulation gate's verdict: SEND applies the action, WAIT does not."""

    SEND = "SEND"
    WAIT = "WAIT"


class DecisionStatus(enum.StrEnum):
    """What the game did with a tick's decision."""

    APPLIED = "APPLIED"
    WAITED = "WAITED"
    MISSING = "MISSING"


class RewardSource(enum.StrEnum):
    """Where an experience's reward came from."""

    MATCHED = "MATCHED"
    DEFAULT = "DEFAULT"


class ErrorKind(enum.StrEnum):
    """Why a record went to the dead-letter topic."""

    NOT_SINGLE_OBJECT = "NOT_SINGLE_OBJECT"
    UNKNOWN_FINGERPRINT = "UNKNOWN_FINGERPRINT"
    CORRUPT_BODY = "CORRUPT_BODY"
    INVALID_RECORD = "INVALID_RECORD"
    INVALID_EVENT = "INVALID_EVENT"
    PROCESSING_ERROR = "PROCESSING_ERROR"


class PromotionKind(enum.StrEnum):
    """Why the served version changes (Promotion.kind)."""

    PROMOTE = "PROMOTE"
    ROLLBACK = "ROLLBACK"


class ServingMode(enum.StrEnum):
    """How versions reach serving: every one, the gated ones, or by hand (Promotion.mode)."""

    IMMEDIATE = "IMMEDIATE"
    GATED = "GATED"
    MANUAL = "MANUAL"


# Records write members as they are (a StrEnum member is its Avro symbol) and read them back here.
SPAWN_TYPES = by_symbol(SpawnType)
GATE_DECISIONS = by_symbol(GateDecision)
DECISION_STATUSES = by_symbol(DecisionStatus)
REWARD_SOURCES = by_symbol(RewardSource)
ERROR_KINDS = by_symbol(ErrorKind)
PROMOTION_KINDS = by_symbol(PromotionKind)
SERVING_MODES = by_symbol(ServingMode)
