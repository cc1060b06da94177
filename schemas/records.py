"""Typed records mirroring schemas/v1/*.avsc one to one, with the checks Avro cannot express.

Field names and order are the Avro ones. Arrays are tuples, maps are dicts, timestamps are plain
ints (milliseconds or microseconds since the epoch, as each field's doc says), enums are the
str-enums of schemas.enums. `validate()` raises InvalidRecord naming the field and the value.
`to_avro()` / `from_avro()` convert explicitly to and from fastavro's dicts. The classes live in
game_records.py and ops_records.py; this module is where everyone imports them from.
Imports no Kafka client and no torch.
"""

from __future__ import annotations

from schemas.checks import N_CHUNKS, N_FEATURES, N_SPAWN_TYPES
from schemas.game_records import Action, Decision, Experience, Observation, Reward
from schemas.ops_records import DeadLetter, ModelVersion, TrainingSummary

__all__ = [
    "N_CHUNKS",
    "N_FEATURES",
    "N_SPAWN_TYPES",
    "RECORD_TYPES",
    "Action",
    "DeadLetter",
    "Decision",
    "Experience",
    "ModelVersion",
    "Observation",
    "Record",
    "Reward",
    "TrainingSummary",
]

Record = Observation | Decision | Reward | Experience | ModelVersion | DeadLetter

RECORD_TYPES: tuple[type[Record], ...] = (
    Observation,
    Decision,
    Reward,
    Experience,
    ModelVersion,
    DeadLetter,
)
