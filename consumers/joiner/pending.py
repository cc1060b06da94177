"""The joiner's state: decisions and rewards waiting for their other half. Pure, no Kafka.

Key: (territory_id, seq). Either side may come first. Time is event time: each partition's
watermark is the *smaller* of the largest event_time seen among its decisions and the largest
seen among its rewards (a territory's decisions and rewards share a partition number). Taking
the smaller one matters when one topic is read ahead of the other (a backlog, a restart): the
decisions' clock alone would expire decisions whose rewards are still waiting, unread, in the
rewards topic. A decision still unmatched when its partition's watermark passes
`decision.event_time + reward_timeout_ms` becomes a DEFAULT experience (or is dropped, when no
default reward is configured); an unmatched reward is dropped after the same timeout. Keys
already joined are remembered for two timeouts, so a duplicate decision or reward yields no
second experience. Every pending item remembers where it was read, so the loop never commits
an offset past a record still held here (a crash loses nothing: the records are re-read).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.enums import DecisionStatus, RewardSource
from schemas.records import Decision, Experience, Reward

Key = tuple[str, int]  # (territory_id, seq)
Where = tuple[str, int, int]  # (topic, partition, offset) the record was read at


@dataclass
class JoinStats:
    """Counters of what the join did (plain ints; the service exports them)."""

    matched: int = 0
    defaulted: int = 0
    dropped_decisions: int = 0
    orphan_rewards: int = 0
    late_rewards: int = 0
    duplicates: int = 0


@dataclass
class _Held:
    record: Any
    where: Where
    partition: int


@dataclass
class PendingJoin:
    """Join state of every partition this joiner instance owns."""

    reward_timeout_ms: int = 60_000  # 4 ticks of 15 s game time
    default_reward: float | None = 0.0  # None: drop expired decisions instead
    decisions: dict[Key, _Held] = field(default_factory=dict)
    rewards: dict[Key, _Held] = field(default_factory=dict)
    # key -> event_time of what was joined (or expired), oldest first: duplicates yield nothing
    joined: OrderedDict[Key, int] = field(default_factory=OrderedDict)
    decision_clock: dict[int, int] = field(default_factory=dict)  # partition -> max event_time
    reward_clock: dict[int, int] = field(default_factory=dict)  # partition -> max event_time
    stats: JoinStats = field(default_factory=JoinStats)
    # partition -> heap of (event_time, n, key, side) of what is held: expiry pops from the
    # oldest instead of sweeping everything held (a backlog can hold tens of thousands)
    deadlines: dict[int, list[tuple[int, int, Key, str]]] = field(default_factory=dict)
    _pushed: int = 0

    def add_decision(self, decision: Decision, where: Where, now_us: int) -> list[Experience]:
        """Take a decision; return the experience when its reward is already here."""
        key = (decision.territory_id, decision.seq)
        _advance(self.decision_clock, where[1], decision.event_time)
        if key in self.joined or key in self.decisions:
            self.stats.duplicates += 1
            return []
        held = self.rewards.pop(key, None)
        if held is not None:
            return [self._match(decision, held.record, now_us)]
        self.decisions[key] = self._hold(decision, where, key, "decision")
        return []

    def add_reward(self, reward: Reward, where: Where, now_us: int) -> list[Experience]:
        """Take a reward; return the experience when its decision is already here."""
        key = (reward.territory_id, reward.seq)
        _advance(self.reward_clock, where[1], reward.event_time)
        if key in self.joined:
            self.stats.late_rewards += 1
            return []
        if key in self.rewards:
            self.stats.duplicates += 1
            return []
        held = self.decisions.pop(key, None)
        if held is not None:
            return [self._match(held.record, reward, now_us)]
        self.rewards[key] = self._hold(reward, where, key, "reward")
        return []

    def expire(self, now_us: int) -> list[Experience]:
        """Resolve everything whose timeout passed its partition's watermark."""
        out = []
        marks = {p: self.watermark(p) for p in self.decision_clock.keys() | self.reward_clock}
        for partition, heap in self.deadlines.items():
            mark = marks.get(partition, -1)
            while heap and heap[0][0] + self.reward_timeout_ms < mark:
                event_time, _, key, side = heapq.heappop(heap)
                table = self.decisions if side == "decision" else self.rewards
                held = table.get(key)
                if held is None or (held.partition, held.record.event_time) != (
                    partition,
                    event_time,
                ):
                    continue  # matched since it was pushed (or held again, anew)
                del table[key]
                if side == "reward":
                    self.stats.orphan_rewards += 1
                    continue
                self._remember(key, event_time)
                if self.default_reward is None:
                    self.stats.dropped_decisions += 1
                else:
                    self.stats.defaulted += 1
                    out.append(self._default(held.record, now_us))
        # Forget joined keys from the oldest remembered on; one that is still young stops the
        # sweep (keys arrive nearly in event-time order; a few may be kept a little longer).
        newest = max(marks.values(), default=-1)
        while self.joined:
            key, event_time = next(iter(self.joined.items()))
            if event_time + 2 * self.reward_timeout_ms >= newest:
                break
            self.joined.popitem(last=False)
        return out

    def lowest_held_offsets(self) -> dict[tuple[str, int], int]:
        """Return, per (topic, partition), the lowest offset of a record still held."""
        lowest: dict[tuple[str, int], int] = {}
        for held in (*self.decisions.values(), *self.rewards.values()):
            topic, partition, offset = held.where
            tp = (topic, partition)
            if offset < lowest.get(tp, offset + 1):
                lowest[tp] = offset
        return lowest

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop the state of partitions this instance no longer owns (after a rebalance)."""
        gone = set(partitions)
        for table in (self.decisions, self.rewards):
            for key in [k for k, h in table.items() if h.partition in gone]:
                del table[key]
        for partition in gone:
            self.deadlines.pop(partition, None)
            self.decision_clock.pop(partition, None)
            self.reward_clock.pop(partition, None)

    @property
    def pending_decisions(self) -> int:
        """Decisions waiting for their reward."""
        return len(self.decisions)

    @property
    def pending_rewards(self) -> int:
        """Rewards waiting for their decision."""
        return len(self.rewards)

    def watermark(self, partition: int) -> int:
        """Event time both topics of `partition` have reached (-1 until both have records)."""
        return min(self.decision_clock.get(partition, -1), self.reward_clock.get(partition, -1))

    def _hold(self, record: Any, where: Where, key: Key, side: str) -> _Held:
        self._pushed += 1
        heap = self.deadlines.setdefault(where[1], [])
        heapq.heappush(heap, (record.event_time, self._pushed, key, side))
        return _Held(record, where, where[1])

    def _remember(self, key: Key, event_time: int) -> None:
        self.joined[key] = event_time

    def _match(self, decision: Decision, reward: Reward, now_us: int) -> Experience:
        self._remember((decision.territory_id, decision.seq), decision.event_time)
        self.stats.matched += 1
        return Experience(
            decision=decision,
            reward=reward.reward,
            reward_components=dict(reward.components),
            reward_source=RewardSource.MATCHED,
            decision_status=reward.decision_status,
            reward_emitted_at=reward.emitted_at,
            joined_at=now_us,
            join_latency_ms=max(0, (now_us - decision.decided_at) // 1000),
        )

    def _default(self, decision: Decision, now_us: int) -> Experience:
        return Experience(
            decision=decision,
            reward=float(self.default_reward or 0.0),
            reward_components={},
            reward_source=RewardSource.DEFAULT,
            decision_status=DecisionStatus.MISSING,
            reward_emitted_at=None,
            joined_at=now_us,
            join_latency_ms=max(0, (now_us - decision.decided_at) // 1000),
        )


def _advance(clock: dict[int, int], partition: int, event_time: int) -> None:
    if event_time > clock.get(partition, -1):
        clock[partition] = event_time
