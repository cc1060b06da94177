"""The promoter's record: Promotion (with PromotionEvidence), mirroring promotion.avsc.

`validate()` checks what Avro cannot say. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import MAX_TIME, SHA256, fail, finite, in_range
from schemas.enums import PROMOTION_KINDS, SERVING_MODES, PromotionKind, ServingMode
from schemas.limits import DEFAULT_LIMITS, Limits, bounded_id

SIGNATURE_BYTES = 64  # an Ed25519 signature


@dataclass(frozen=True, slots=True)
class PromotionEvidence:
    """The estimates a promotion was decided on (Promotion.evidence)."""

    method: str
    value: float
    lower: float
    upper: float
    n: int
    baseline_version: int
    baseline_value: float
    baseline_lower: float
    baseline_upper: float

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "PromotionEvidence"
        bounded_id(r, "method", self.method, limits)
        for name in ("value", "lower", "upper", "baseline_value", "baseline_lower"):
            finite(r, name, getattr(self, name))
        finite(r, "baseline_upper", self.baseline_upper)
        in_range(r, "n", self.n, 0, MAX_TIME)
        in_range(r, "baseline_version", self.baseline_version, 0, MAX_TIME)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "method": self.method,
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "n": self.n,
            "baseline_version": self.baseline_version,
            "baseline_value": self.baseline_value,
            "baseline_lower": self.baseline_lower,
            "baseline_upper": self.baseline_upper,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> PromotionEvidence:
        """Build the record from a fastavro dict."""
        return cls(
            d["method"],
            d["value"],
            d["lower"],
            d["upper"],
            d["n"],
            d["baseline_version"],
            d["baseline_value"],
            d["baseline_lower"],
            d["baseline_upper"],
        )


@dataclass(frozen=True, slots=True)
class Promotion:
    """Which version inference serves (promotion.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Promotion"

    model_name: str
    model_version: int
    sha256: str
    kind: PromotionKind
    mode: ServingMode
    version_record: bytes
    previous_version: int | None
    created_at: int
    evidence: PromotionEvidence | None = None
    reason: str = ""
    key_id: str | None = None
    signature: bytes | None = None

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        r = "Promotion"
        bounded_id(r, "model_name", self.model_name, limits)
        if self.key_id is not None:
            bounded_id(r, "key_id", self.key_id, limits)
        in_range(r, "model_version", self.model_version, 0, MAX_TIME)
        if self.previous_version is not None:
            in_range(r, "previous_version", self.previous_version, 0, MAX_TIME)
        in_range(r, "created_at", self.created_at, 0, MAX_TIME)
        size = len(self.version_record) if isinstance(self.version_record, bytes) else -1
        if not 0 <= size <= limits.max_weights_bytes + limits.max_event_bytes:
            bound = limits.max_weights_bytes + limits.max_event_bytes
            raise fail(r, "version_record", f"<{size} bytes>", f"must be at most {bound} bytes")
        if not isinstance(self.sha256, str) or not SHA256.match(self.sha256):
            raise fail(r, "sha256", self.sha256, "must be 64 lowercase hex digits")
        if not isinstance(self.kind, PromotionKind):
            raise fail(r, "kind", self.kind, "must be a PromotionKind")
        if not isinstance(self.mode, ServingMode):
            raise fail(r, "mode", self.mode, "must be a ServingMode")
        if len(self.reason) > limits.max_message_length:
            why = f"must hold at most {limits.max_message_length} characters"
            raise fail(r, "reason", f"<{len(self.reason)} characters>", why)
        if self.signature is not None and len(self.signature) != SIGNATURE_BYTES:
            why = f"must be {SIGNATURE_BYTES} bytes (Ed25519)"
            raise fail(r, "signature", f"<{len(self.signature)} bytes>", why)
        if self.evidence is not None:
            self.evidence.validate(limits)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "sha256": self.sha256,
            "kind": self.kind,
            "mode": self.mode,
            "version_record": self.version_record,
            "previous_version": self.previous_version,
            "created_at": self.created_at,
            "evidence": None if self.evidence is None else self.evidence.to_avro(),
            "reason": self.reason,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Promotion:
        """Build the record from a fastavro dict."""
        evidence = d["evidence"]
        return cls(
            d["model_name"],
            d["model_version"],
            d["sha256"],
            PROMOTION_KINDS[d["kind"]],
            SERVING_MODES[d["mode"]],
            d["version_record"],
            d["previous_version"],
            d["created_at"],
            None if evidence is None else PromotionEvidence.from_avro(evidence),
            d["reason"],
            d["key_id"],
            d["signature"],
        )
