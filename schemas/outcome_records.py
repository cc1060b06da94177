"""The outcome of a tick as typed records: Reward, and Experience (a decision joined with it).

Mirrors of reward.avsc and experience.avsc (field names and order are Avro's); `validate()`
checks what Avro cannot say. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas.checks import MAX_TIME, all_within, in_range, name_reward_failure, rewards_within
from schemas.enums import DECISION_STATUSES, REWARD_SOURCES, DecisionStatus, RewardSource
from schemas.game_records import Decision
from schemas.limits import DEFAULT_LIMITS, Limits, bounded_id


@dataclass(frozen=True, slots=True)
class Reward:
    """Outcome of tick `seq` for one territory, observed at `seq + 1` (reward.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Reward"

    territory_id: str
    seq: int
    event_time: int
    emitted_at: int
    rules_version: int
    reward: float
    components: dict[str, float]
    decision_id: str | None = None
    decision_status: DecisionStatus = DecisionStatus.MISSING
    epoch: str = ""
    observation_id: str | None = None

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        n = limits.max_id_length
        if (
            0 < len(self.territory_id) <= n
            and len(self.epoch) <= n
            and (self.decision_id is None or 0 < len(self.decision_id) <= n)
            and (self.observation_id is None or 0 < len(self.observation_id) <= n)
            and 0 <= self.seq <= limits.max_seq
            and all_within((self.seq, self.event_time, self.emitted_at), MAX_TIME)
            and rewards_within(self.reward, self.components, limits)
        ):
            return
        r = "Reward"
        bounded_id(r, "territory_id", self.territory_id, limits)
        bounded_id(r, "epoch", self.epoch, limits, empty=True)
        for name in ("decision_id", "observation_id"):
            if getattr(self, name) is not None:
                bounded_id(r, name, getattr(self, name), limits)
        in_range(r, "seq", self.seq, 0, limits.max_seq)
        in_range(r, "event_time", self.event_time, 0, MAX_TIME)
        in_range(r, "emitted_at", self.emitted_at, 0, MAX_TIME)
        name_reward_failure(r, ("reward", "components"), self.reward, self.components, limits)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "territory_id": self.territory_id,
            "seq": self.seq,
            "event_time": self.event_time,
            "emitted_at": self.emitted_at,
            "rules_version": self.rules_version,
            "reward": self.reward,
            "components": dict(self.components),
            "decision_id": self.decision_id,
            "decision_status": self.decision_status,
            "epoch": self.epoch,
            "observation_id": self.observation_id,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Reward:
        """Build the record from a fastavro dict."""
        return cls(
            d["territory_id"],
            d["seq"],
            d["event_time"],
            d["emitted_at"],
            d["rules_version"],
            d["reward"],
            dict(d["components"]),
            d["decision_id"],
            DECISION_STATUSES[d["decision_status"]],
            d["epoch"],
            d["observation_id"],
        )


@dataclass(frozen=True, slots=True)
class Experience:
    """A decision joined with its reward: one training sample (experience.avsc)."""

    AVRO_NAME: ClassVar[str] = "queenloop.v1.Experience"

    decision: Decision
    reward: float
    reward_components: dict[str, float]
    reward_source: RewardSource
    decision_status: DecisionStatus
    reward_emitted_at: int | None
    joined_at: int
    join_latency_ms: int

    def validate(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Raise InvalidRecord when a value is outside the contract."""
        self.decision.validate(limits)
        times = (self.joined_at, self.join_latency_ms, self.reward_emitted_at or 0)
        if all_within(times, MAX_TIME) and rewards_within(
            self.reward, self.reward_components, limits
        ):
            return
        r = "Experience"
        in_range(r, "joined_at", self.joined_at, 0, MAX_TIME)
        in_range(r, "join_latency_ms", self.join_latency_ms, 0, MAX_TIME)
        if self.reward_emitted_at is not None:
            in_range(r, "reward_emitted_at", self.reward_emitted_at, 0, MAX_TIME)
        names = ("reward", "reward_components")
        name_reward_failure(r, names, self.reward, self.reward_components, limits)

    def to_avro(self) -> dict[str, Any]:
        """Return the fastavro dict of this record."""
        return {
            "decision": self.decision.to_avro(),
            "reward": self.reward,
            "reward_components": dict(self.reward_components),
            "reward_source": self.reward_source,
            "decision_status": self.decision_status,
            "reward_emitted_at": self.reward_emitted_at,
            "joined_at": self.joined_at,
            "join_latency_ms": self.join_latency_ms,
        }

    @classmethod
    def from_avro(cls, d: Mapping[str, Any]) -> Experience:
        """Build the record from a fastavro dict."""
        return cls(
            Decision.from_avro(d["decision"]),
            d["reward"],
            dict(d["reward_components"]),
            REWARD_SOURCES[d["reward_source"]],
            DECISION_STATUSES[d["decision_status"]],
            d["reward_emitted_at"],
            d["joined_at"],
            d["join_latency_ms"],
        )
