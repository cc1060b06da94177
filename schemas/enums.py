"""The Avro enums of the contract, as Python enums whose values are the Avro symbols.

Imports nothing but the standard library (no Kafka, no torch).
"""

import enum


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
