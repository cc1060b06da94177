"""Which model versions on the topic may be trusted: one check for inference and the trainer.

A record on `queen.model-versions` is anybody's until proven otherwise. `VersionCheck.check`
passes a version only when it is for this model, carries a signature that verifies under a
trusted key (runtime/signing.py), its weights hash to its sha256, its creation time is not in
the future, and its number is above the reference (served, or resumed) version without
jumping absurdly far past it. Loading the weights (queen.weights) comes after, for the one
version chosen. `newest_valid` reads a batch of raw messages and keeps only the newest version
that passes, so a reader of a long, uncompacted topic holds one candidate, not the topic.
Whatever bytes a message holds, the only outcomes are a version or a `Rejection`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from queen.weights import sha256_hex
from runtime.signing import SignatureError, Verifier
from schemas.codec import Codec
from schemas.enums import ErrorKind
from schemas.errors import SchemaError
from schemas.records import ModelVersion

logger = logging.getLogger(__name__)

REASONS = (
    "undecodable",
    "other_model",
    "unsigned",
    "unknown_key",
    "bad_signature",
    "sha256",
    "stale",
    "version_jump",
    "future",
    "architecture",
    "feature",
    "non-finite",
    "shape",
    "readable",
    "invalid",
)


class Rejection(Exception):
    """A version refused; `reason` is one of REASONS (a metric label), `kind` its dead letter's."""

    def __init__(
        self, reason: str, message: str, kind: ErrorKind = ErrorKind.INVALID_EVENT
    ) -> None:
        """Keep the reason and the dead-letter kind beside the message."""
        super().__init__(message)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class VersionCheck:
    """The checks every version passes before it is served or resumed from."""

    model_name: str
    verifier: Verifier
    max_jump: int = 10**9  # versions past the reference; a trainer publishes ~1 a second
    max_future_us: int = 300 * 10**6  # created_at may be this far ahead of the wall clock

    def check(self, version: ModelVersion, reference: int, now_us: int) -> None:
        """Return when `version` may replace `reference`; raise Rejection otherwise."""
        if version.model_name != self.model_name:
            msg = f"version {version.version} is for model {version.model_name!r}"
            raise Rejection("other_model", msg)
        try:
            self.verifier.verify(version)
        except SignatureError as exc:
            raise Rejection(exc.reason, str(exc)) from None
        if sha256_hex(version.weights) != version.sha256:
            raise Rejection("sha256", f"version {version.version}: weights do not hash to sha256")
        if version.version <= reference:
            raise Rejection("stale", f"version {version.version} <= {reference}")
        if version.version > reference + self.max_jump:
            msg = f"version {version.version} jumps more than {self.max_jump} past {reference}"
            raise Rejection("version_jump", msg)
        if version.created_at > now_us + self.max_future_us:
            msg = f"version {version.version} created {version.created_at - now_us} µs ahead"
            raise Rejection("future", msg)


def newest_valid(
    messages: Iterable[Any],
    codec: Codec,
    check: VersionCheck,
    reference: int,
    now_us: int,
    on_reject: Callable[[Any, Rejection], None],
) -> ModelVersion | None:
    """The newest version among `messages` that passes `check` above `reference`, or None.

    Older valid versions of the batch are passed over silently (an uncompacted topic holds
    every version); every other refusal goes to `on_reject(message, rejection)`.
    """
    best: ModelVersion | None = None
    for message in messages:
        try:
            version = codec.decode(message.value() or b"", ModelVersion)
        except SchemaError as exc:
            on_reject(message, Rejection("undecodable", str(exc), exc.kind))
            continue
        floor = reference if best is None else best.version
        try:
            check.check(version, floor, now_us)
        except Rejection as rejection:
            if rejection.reason != "stale":
                on_reject(message, rejection)
            continue
        best = version
    return best
