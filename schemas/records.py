"""Typed records mirroring schemas/v1/*.avsc one to one, with the checks Avro cannot express.

Field names and order are the Avro ones. Arrays are tuples, maps are dicts, timestamps are plain
ints (milliseconds or microseconds since the epoch, as each field's doc says), enums are the
str-enums of schemas.enums. `validate()` raises InvalidRecord naming the field and the value.
`to_avro()` / `from_avro()` convert explicitly to and from fastavro's dicts. The classes live
in game_records.py, outcome_records.py, ops_records.py, rule_records.py and
promotion_records.py; everyone imports them from here.
Imports no Kafka client and no torch.
"""

from __future__ import annotations

from schemas.checks import N_ACTIONS, N_CHUNKS, N_FEATURES, N_SPAWN_TYPES
from schemas.game_records import Action, Decision, Observation, Shadow
from schemas.ops_records import DeadLetter, InputOffset, ModelVersion, TrainingSummary
from schemas.outcome_records import Experience, Reward
from schemas.promotion_records import Promotion, PromotionEvidence
from schemas.rule_records import RuleSet

__all__ = [
    "N_ACTIONS",
    "N_CHUNKS",
    "N_FEATURES",
    "N_SPAWN_TYPES",
    "RECORD_TYPES",
    "Action",
    "DeadLetter",
    "Decision",
    "Experience",
    "InputOffset",
    "ModelVersion",
    "Observation",
    "Promotion",
    "PromotionEvidence",
    "Record",
    "Reward",
    "RuleSet",
    "Shadow",
    "TrainingSummary",
]

Record = (
    Observation | Decision | Reward | Experience | ModelVersion | DeadLetter | RuleSet | Promotion
)

RECORD_TYPES: tuple[type[Record], ...] = (
    Observation,
    Decision,
    Reward,
    Experience,
    ModelVersion,
    DeadLetter,
    RuleSet,
    Promotion,
)
