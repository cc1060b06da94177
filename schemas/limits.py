"""The contract's semantic limits: how long, how large and how far a value may go.

Avro says a string is a string; the contract says how long it may be. Every topic is written
by a stranger, so every string, array, map and magnitude the loop reads is bounded here, and a
record beyond a bound is refused (InvalidRecord) before any service uses it. The codec checks
the byte size of a record before decoding it, so no record can make decoding allocate without
bound either.

Each bound is a setting (`QUEEN_LIMIT_<FIELD>`, read by runtime.settings.limits_from_env);
the defaults here are documented in docs/events.md and fit the game with a wide margin.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from schemas.errors import InvalidRecord

KIB = 1024
MIB = 1024 * KIB


def _limit(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Limits:
    """Bounds on every value the contract's records may carry."""

    max_id_length: int = _limit(
        128,
        "characters of any id or name (observation, decision, territory, epoch, model, gate "
        "version, fingerprints, key id, dead-letter service, rule set publisher)",
    )
    max_components: int = _limit(16, "entries of a reward's component map")
    max_component_name: int = _limit(64, "characters of a reward component's name")
    max_abs_reward: float = _limit(
        1000.0, "largest |reward|, |expected_reward| or |component| (the game's are a few units)"
    )
    max_seq: int = _limit(10**12, "highest tick number (10^12 ticks of 15 s: 475,000 years)")
    max_amount: float = _limit(1e9, "largest resources, income or upkeep of a territory")
    max_count: int = _limit(10**6, "largest unit count (per chunk, per type, lost in a tick)")
    max_first_use: int = _limit(
        10_000, "entries of TrainingSummary.first_use_reward_emitted_at (at most a batch)"
    )
    max_partitions: int = _limit(1024, "entries of TrainingSummary.input_offsets")
    max_weights_bytes: int = _limit(16 * MIB, "bytes of a ModelVersion's weights (safetensors)")
    max_message_length: int = _limit(
        4000, "characters of a dead letter's message or a rule set's note"
    )
    max_rule_value: float = _limit(
        1e6, "largest cost, upkeep, harvest or income a rule set may give a spawn type"
    )
    max_event_bytes: int = _limit(
        64 * KIB,
        "bytes of one encoded Observation, Decision, Reward, Experience or RuleSet (~300-700 "
        "in practice); a larger one is refused before it is decoded",
    )

    def __post_init__(self) -> None:
        """Every bound must be positive."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not value > 0:
                raise ValueError(f"QUEEN_LIMIT_{f.name.upper()}={value!r}: must be > 0")

    def max_bytes(self, avro_name: str) -> int:
        """Largest encoded record of type `avro_name` (a full Avro name) this reader decodes."""
        if avro_name.endswith(".ModelVersion"):
            return self.max_weights_bytes + self.max_event_bytes
        if avro_name.endswith((".DeadLetter", ".Promotion")):  # a record's bytes whole inside
            return self.max_weights_bytes + 2 * self.max_event_bytes
        return self.max_event_bytes


DEFAULT_LIMITS = Limits()


def bounded_id(record: str, name: str, value: str, limits: Limits, empty: bool = False) -> None:
    """Raise unless `value` is a str of 1 (0 when `empty`) to max_id_length characters."""
    if not isinstance(value, str):
        raise InvalidRecord(f"{record}.{name}={value!r}: must be a string")
    if not (0 if empty else 1) <= len(value) <= limits.max_id_length:
        shown = value if len(value) <= 40 else f"{value[:40]}... ({len(value)} characters)"
        raise InvalidRecord(
            f"{record}.{name}={shown!r}: must hold "
            f"{0 if empty else 1} to {limits.max_id_length} characters"
        )
