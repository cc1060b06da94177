"""Which promotions on the topic may be trusted, and the thread that follows them.

A record on `queen.promotions` is anybody's until proven otherwise. `PromotionCheck.check`
passes a promotion only when it is for this model, its signature verifies under a key trusted
*for promotions* (the promoter's, never the trainer's: the trainer cannot promote its own
versions), it is newer than the last promotion applied (a replayed old promotion changes
nothing) and not made in the future, and the version it carries passes every check of
runtime/model_versions.py and is the one it names (number and sha256). Whatever bytes a
message holds, the only outcomes are (promotion, version) or a `Rejection`.

`PromotionReader` follows the topic from the beginning (no group) and hands each valid
promotion to a sink: inference's model slot, or the promoter's own view of what is served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from queen.policy import ExplorationConfig
from runtime.errors import SettingsError
from runtime.model_versions import Rejection, VersionCheck
from runtime.signing import SignatureError, Verifier
from runtime.tail import TopicFollower
from schemas.codec import Codec
from schemas.enums import ServingMode
from schemas.errors import SchemaError
from schemas.records import ModelVersion, Promotion

logger = logging.getLogger(__name__)

REASONS = (
    "undecodable",
    "other_model",
    "unsigned",
    "unknown_key",
    "bad_signature",
    "replayed",
    "future",
    "version_mismatch",
    "version_invalid",
    "invalid",
)

MODES = ("immediate", "gated", "manual")


def serving_mode(value: str, setting: str = "QUEEN_SERVING_MODE") -> ServingMode:
    """The ServingMode a setting names; anything else raises SettingsError naming it."""
    if value not in MODES:
        raise SettingsError(f"{setting}={value!r}: must be one of {', '.join(MODES)}")
    return ServingMode(value.upper())


def require_exploration(mode: ServingMode, exploration: ExplorationConfig) -> None:
    """Refuse a policy that never explores where versions are evaluated before serving.

    In gated and manual modes the promoter scores candidates off-policy on the decisions
    inference logged; with QUEEN_INFERENCE_EPSILON=0 those hold only the greedy action, and
    no candidate that differs from the served version could be evaluated without bias.
    """
    if mode is not ServingMode.IMMEDIATE and not exploration.explores:
        msg = (
            f"QUEEN_INFERENCE_EPSILON={exploration.epsilon!r}: QUEEN_SERVING_MODE="
            f"{mode.value.lower()} evaluates versions off-policy on the logged decisions, which "
            "needs every action logged with a positive probability: set it above 0 (0.1 by "
            "default), or serve immediate"
        )
        raise SettingsError(msg)


@dataclass(frozen=True)
class PromotionCheck:
    """The checks every promotion passes before the version it names is served."""

    model_name: str
    verifier: Verifier  # keys trusted for promotions
    versions: VersionCheck  # keys trusted for versions (the trainer's)
    codec: Codec
    max_future_us: int = 300 * 10**6

    def check(self, promotion: Promotion, last_at: int, now_us: int) -> ModelVersion:
        """Return the version `promotion` serves; raise Rejection otherwise.

        `last_at`: created_at of the last promotion applied (-1 for none).
        """
        what = f"promotion of version {promotion.model_version}"
        if promotion.model_name != self.model_name:
            raise Rejection("other_model", f"{what} is for model {promotion.model_name!r}")
        try:
            self.verifier.verify_promotion(promotion)
        except SignatureError as exc:
            raise Rejection(exc.reason, str(exc)) from None
        if promotion.created_at <= last_at:
            msg = f"{what} made at {promotion.created_at}, not after the last one ({last_at})"
            raise Rejection("replayed", msg)
        if promotion.created_at > now_us + self.max_future_us:
            msg = f"{what} made {promotion.created_at - now_us} µs ahead"
            raise Rejection("future", msg)
        try:
            version = self.codec.decode(promotion.version_record, ModelVersion)
        except SchemaError as exc:
            raise Rejection("version_invalid", f"{what}: its version record: {exc}") from None
        if version.version != promotion.model_version or version.sha256 != promotion.sha256:
            msg = (
                f"{what} (sha256 {promotion.sha256[:12]}) carries version {version.version} "
                f"(sha256 {version.sha256[:12]})"
            )
            raise Rejection("version_mismatch", msg)
        try:
            self.versions.check(version, -1, now_us)
        except Rejection as exc:
            raise Rejection("version_invalid", f"{what}: {exc} ({exc.reason})") from None
        return version


class PromotionSink(Protocol):
    """What a PromotionReader hands valid promotions to."""

    last_promotion_at: int  # created_at of the last promotion applied, -1 for none

    def apply(self, promotion: Promotion, version: ModelVersion) -> bool:
        """Serve (or take note of) `version` as `promotion` says; False when it cannot."""
        ...

    def reject_promotion(self, rejection: Rejection) -> None:
        """Count (and log) a refused promotion."""
        ...


class PromotionReader(TopicFollower):
    """Follows the promotions topic and applies each valid promotion, in order."""

    def __init__(
        self,
        consumer: Any,
        topic: str,
        sink: PromotionSink,
        codec: Codec,
        check: PromotionCheck,
        stop: threading.Event,
        dead_letters: Any = None,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        """Read `topic` with `consumer` (not in a group) until `stop` is set."""
        super().__init__(consumer, topic, stop, "promotion-reader")
        self.sink = sink
        self.codec = codec
        self.check = check
        self.dead_letters = dead_letters
        self.wall_us = wall_us

    def read_once(self, timeout: float = 0.1) -> int:
        """Read one batch; apply its valid promotions in order. Return how many applied."""
        messages = [m for m in self.consumer.consume(100, timeout) if m.error() is None]
        applied = 0
        for message in messages:
            try:
                promotion = self.codec.decode(message.value() or b"", Promotion)
                version = self.check.check(promotion, self.sink.last_promotion_at, self.wall_us())
            except SchemaError as exc:
                self._rejected(message, Rejection("undecodable", str(exc), exc.kind))
                continue
            except Rejection as rejection:
                self._rejected(message, rejection)
                continue
            applied += bool(self.sink.apply(promotion, version))
        return applied

    def _rejected(self, message: Any, rejection: Rejection) -> None:
        self.sink.reject_promotion(rejection)
        if self.dead_letters is not None and rejection.reason != "replayed":
            self.dead_letters.publish(message, rejection, rejection.kind)
