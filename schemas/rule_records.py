"""The game's rules as an event: RuleSet (rule_set.avsc); `validate()` checks what Avro cannot.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import MAX_TIME, N_SPAWN_TYPES, each_non_negative, fail, in_range, length
from schemas.limits import DEFAULT_LIMITS, Limits, bounded_id

SIGNATURE_BYTES = 64  # an Ed25519 signature

AMOUNTS = ("cost", "upkeep", "harvest", "income")  # in [0, max_rule_value]
SHARES = ("kill", "heal")  # in [0, 1]
PER_TYPE = ("cost", "upkeep", "kill", "harvest", "income", "heal")  # the schema's order


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One version of the rules, per spawn type in SpawnType order (rule_set.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.RuleSet"

    rules_version: int
    published_at: int
    publisher: str
    note: str
    cost: tuple[float, ...]
    upkeep: tuple[float, ...]
    kill: tuple[float, ...]
    harvest: tuple[float, ...]
    income: tuple[float, ...]
    heal: tuple[float, ...]
    key_id: str | None = None
    signature: bytes | None = None

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "RuleSet"
        in_range(r, "rules_version", self.rules_version, 0, 2**31 - 1)
        in_range(r, "published_at", self.published_at, 0, MAX_TIME)
        bounded_id(r, "publisher", self.publisher, limits)
        if not isinstance(self.note, str) or len(self.note) > limits.max_message_length:
            why = f"must hold at most {limits.max_message_length} characters"
            raise fail(r, "note", f"<{len(self.note)} characters>", why)
        for name in PER_TYPE:
            values = getattr(self, name)
            length(r, name, values, N_SPAWN_TYPES)
            high = 1.0 if name in SHARES else limits.max_rule_value
            each_non_negative(r, name, values, high)
        if self.key_id is not None:
            bounded_id(r, "key_id", self.key_id, limits)
        if self.signature is not None and len(self.signature) != SIGNATURE_BYTES:
            why = f"must be {SIGNATURE_BYTES} bytes (Ed25519)"
            raise fail(r, "signature", f"<{len(self.signature)} bytes>", why)

    def same_rules(self, other: RuleSet) -> bool:
        """True when `other` sets the same version and the same numbers (who and when aside)."""
        return self.rules_version == other.rules_version and all(
            tuple(map(float, getattr(self, n))) == tuple(map(float, getattr(other, n)))
            for n in PER_TYPE
        )

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "rules_version": self.rules_version,
            "published_at": self.published_at,
            "publisher": self.publisher,
            "note": self.note,
            **{name: list(getattr(self, name)) for name in PER_TYPE},
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> RuleSet:
        """Build the record from a fastavro dict."""
        return cls(
            d["rules_version"],
            d["published_at"],
            d["publisher"],
            d["note"],
            tuple(d["cost"]),
            tuple(d["upkeep"]),
            tuple(d["kill"]),
            tuple(d["harvest"]),
            tuple(d["income"]),
            tuple(d["heal"]),
            d["key_id"],
            d["signature"],
        )
