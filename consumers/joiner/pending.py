"""The joiner's state: decisions and rewards waiting for their other half. Pure, no Kafka.

Key: (epoch, territory_id, seq), the one tick of one run of the game. Either side may come
first. A reward names the decision the game acted on (`decision_id`) and the observation it
rewards (`observation_id`): it joins that decision only. When several decisions answer one
observation (an inference instance re-decided a batch after a crash), the one the reward names
is joined and the others are dropped as duplicates; a reward that names none (the game got no
decision in time) joins the first decision that came. So every tick yields one experience.

Time is event time, per partition *and epoch*: a restarted game starts its own clock, so its
fresh events are never "late" against the old run's clock. The watermark of (partition, epoch)
is the lowest, over its territories, of the smaller of each territory's newest decision and
newest reward event time: one topic read ahead of the other must not expire what the other
still holds, unread, and one record stamped ahead (a forgery, a bug) moves one territory's
clock, never the watermark. A territory silent for `idle_timeout_ms` of wall time (its match
ended) no longer holds the watermark back. A decision
unmatched when the watermark passes `event_time + reward_timeout_ms` becomes a DEFAULT
experience (or is dropped when no default reward is configured); an unmatched reward is dropped
after the same timeout. An epoch nobody writes to any more (the game was killed) has a clock
that never moves: after `idle_timeout_ms` of wall time without a record, everything it holds is
resolved the same way. Keys already joined are remembered for two timeouts (per epoch), so a
duplicate decision or reward yields no second experience. Held records are bounded in number
and bytes: beyond either bound the oldest are resolved early (counted as `evicted`). Every held
record remembers where it was read, so the loop never commits past one (a crash loses nothing).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.enums import DecisionStatus, RewardSource
from schemas.records import Decision, Experience, Reward

Key = tuple[str, str, int]  # (epoch, territory_id, seq)
Clock = tuple[int, str]  # (partition, epoch)
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
    evicted: int = 0
    idle_epochs: int = 0


@dataclass
class _Held:
    record: Any
    where: Where
    size: int


@dataclass
class _Clock:
    """One territory's newest decision and reward event times, and when it was last seen."""

    decision: int = -1
    reward: int = -1
    seen_us: int = 0


@dataclass
class _Epoch:
    """One (partition, epoch): its territories' clocks, what it holds, what it joined."""

    territories: OrderedDict[str, _Clock] = field(default_factory=OrderedDict)  # by last seen
    last_seen_us: int = 0
    deadlines: list[tuple[int, int, Key]] = field(default_factory=list)  # (event_time, n, key)
    joined: OrderedDict[Key, int] = field(default_factory=OrderedDict)  # key -> event_time

    def clock(self, territory: str, now_us: int, limit: int) -> _Clock:
        """The clock of `territory`, now seen; the least recently seen beyond `limit` go."""
        clock = self.territories.get(territory)
        if clock is None:
            clock = self.territories[territory] = _Clock()
            if len(self.territories) > limit:
                self.territories.popitem(last=False)
        else:
            self.territories.move_to_end(territory)
        clock.seen_us = max(clock.seen_us, now_us)
        self.last_seen_us = max(self.last_seen_us, now_us)
        return clock

    def watermark(self, now_us: int, idle_us: int) -> int:
        """The lowest clock of the territories seen within `idle_us` (-1 until they have both)."""
        active = [c for c in self.territories.values() if now_us - c.seen_us <= idle_us]
        return min((min(c.decision, c.reward) for c in active), default=-1)


@dataclass
class JoinLimits:
    """Bounds on the join state (defaults hold a backlog of minutes at a large game)."""

    idle_timeout_ms: int = 120_000  # wall ms without a record before an epoch is resolved
    max_held: int = 500_000  # decisions and rewards held
    max_held_bytes: int = 256 * 1024 * 1024  # their encoded size
    max_decisions_per_key: int = 8  # decisions answering one tick (re-decided after crashes)
    max_epochs: int = 10_000  # (partition, epoch) clocks; beyond, the stalest resolves early
    max_territories: int = 100_000  # territory clocks per epoch (least recently seen go)


class PendingJoin:
    """Join state of every partition this joiner instance owns."""

    def __init__(
        self,
        reward_timeout_ms: int = 60_000,
        default_reward: float | None = 0.0,
        limits: JoinLimits | None = None,
    ) -> None:
        """`default_reward` None: drop expired decisions instead of defaulting them."""
        self.reward_timeout_ms = reward_timeout_ms
        self.default_reward = default_reward
        self.limits = limits or JoinLimits()
        self.decisions: dict[Key, list[_Held]] = {}
        self.rewards: dict[Key, _Held] = {}
        self.epochs: dict[Clock, _Epoch] = {}
        self.stats = JoinStats()
        self.held_bytes = 0
        self._pushed = 0
        self._early: list[Experience] = []  # resolved outside expire(), emitted by the next

    def add_decision(
        self, decision: Decision, where: Where, now_us: int, size: int = 0
    ) -> list[Experience]:
        """Take a decision; return the experience when its reward is already here."""
        key = (decision.epoch, decision.territory_id, decision.seq)
        epoch = self._epoch(where[1], decision.epoch, now_us)
        clock = epoch.clock(decision.territory_id, now_us, self.limits.max_territories)
        clock.decision = max(clock.decision, decision.event_time)
        held = self.decisions.get(key, [])
        if (
            key in epoch.joined
            or any(h.record.decision_id == decision.decision_id for h in held)
            or len(held) >= self.limits.max_decisions_per_key
        ):
            self.stats.duplicates += 1
            return []
        if not held and key not in self.rewards:
            self._push(epoch, decision.event_time, key)
        self.decisions[key] = [*held, _Held(decision, where, size)]
        self.held_bytes += size
        return self._try_match(key, epoch, now_us)

    def add_reward(
        self, reward: Reward, where: Where, now_us: int, size: int = 0
    ) -> list[Experience]:
        """Take a reward; return the experience when its decision is already here."""
        key = (reward.epoch, reward.territory_id, reward.seq)
        epoch = self._epoch(where[1], reward.epoch, now_us)
        clock = epoch.clock(reward.territory_id, now_us, self.limits.max_territories)
        clock.reward = max(clock.reward, reward.event_time)
        if key in epoch.joined:
            self.stats.late_rewards += 1
            return []
        if key in self.rewards:
            self.stats.duplicates += 1
            return []
        if key not in self.decisions:
            self._push(epoch, reward.event_time, key)
        self.rewards[key] = _Held(reward, where, size)
        self.held_bytes += size
        return self._try_match(key, epoch, now_us)

    def expire(self, now_us: int) -> list[Experience]:
        """Resolve what timed out (by watermark), what idle epochs hold, and any excess."""
        out: list[Experience] = []
        for clock, epoch in list(self.epochs.items()):
            idle_us = self.limits.idle_timeout_ms * 1000
            idle = now_us - epoch.last_seen_us > idle_us
            mark = epoch.watermark(now_us, idle_us)
            while epoch.deadlines and (
                idle or epoch.deadlines[0][0] + self.reward_timeout_ms < mark
            ):
                _, _, key = heapq.heappop(epoch.deadlines)
                out += self._resolve(key, epoch, now_us)
            if idle:
                del self.epochs[clock]
                self.stats.idle_epochs += 1
                continue
            while epoch.joined:  # forget joined keys two timeouts behind the watermark
                key, event_time = next(iter(epoch.joined.items()))
                if event_time + 2 * self.reward_timeout_ms >= mark:
                    break
                epoch.joined.popitem(last=False)
        out += self._evict_excess(now_us)
        early, self._early = self._early, []
        return early + out

    def lowest_held_offsets(self) -> dict[tuple[str, int], int]:
        """Return, per (topic, partition), the lowest offset of a record still held."""
        lowest: dict[tuple[str, int], int] = {}
        held = [*self.rewards.values(), *(h for hs in self.decisions.values() for h in hs)]
        for h in held:
            topic, partition, offset = h.where
            if offset < lowest.get((topic, partition), offset + 1):
                lowest[(topic, partition)] = offset
        return lowest

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Drop the state of partitions this instance no longer owns (after a rebalance)."""
        gone = set(partitions)
        for key in [k for k, hs in self.decisions.items() if hs[0].where[1] in gone]:
            self.held_bytes -= sum(h.size for h in self.decisions.pop(key))
        for key in [k for k, h in self.rewards.items() if h.where[1] in gone]:
            self.held_bytes -= self.rewards.pop(key).size
        for clock in [c for c in self.epochs if c[0] in gone]:
            del self.epochs[clock]

    @property
    def pending_decisions(self) -> int:
        """Ticks whose decisions wait for their reward."""
        return len(self.decisions)

    @property
    def pending_rewards(self) -> int:
        """Rewards waiting for their decision."""
        return len(self.rewards)

    def watermark(self, partition: int, epoch: str = "", now_us: int | None = None) -> int:
        """Event time every active territory of (partition, epoch) has reached on both topics.

        -1 until they have; `now_us` (default: the last record's time) decides who is active.
        """
        state = self.epochs.get((partition, epoch))
        if state is None:
            return -1
        now = state.last_seen_us if now_us is None else now_us
        return state.watermark(now, self.limits.idle_timeout_ms * 1000)

    def _epoch(self, partition: int, epoch: str, now_us: int) -> _Epoch:
        state = self.epochs.get((partition, epoch))
        if state is None:
            if len(self.epochs) >= self.limits.max_epochs:
                self._evict_stalest_epoch(now_us)
            state = self.epochs[(partition, epoch)] = _Epoch()
        return state

    def _push(self, epoch: _Epoch, event_time: int, key: Key) -> None:
        self._pushed += 1
        heapq.heappush(epoch.deadlines, (event_time, self._pushed, key))

    def _try_match(self, key: Key, epoch: _Epoch, now_us: int) -> list[Experience]:
        held_reward = self.rewards.get(key)
        decisions = self.decisions.get(key)
        if held_reward is None or not decisions:
            return []
        reward: Reward = held_reward.record
        answering = [
            h
            for h in decisions
            if reward.observation_id is None or h.record.observation_id == reward.observation_id
        ]
        if reward.decision_id is not None:
            answering = [h for h in answering if h.record.decision_id == reward.decision_id]
        if not answering:
            return []  # the decision the reward names has not come yet
        self._release(key)
        epoch.joined[key] = answering[0].record.event_time
        self.stats.matched += 1
        self.stats.duplicates += len(decisions) - 1
        return [self._match(answering[0].record, reward, now_us)]

    def _resolve(self, key: Key, epoch: _Epoch, now_us: int) -> list[Experience]:
        """Time is up for `key`: a held decision defaults (or drops), a held reward is orphaned."""
        decisions, reward = self.decisions.get(key), self.rewards.get(key)
        if decisions is None and reward is None:
            return []  # matched since
        self._release(key)
        if reward is not None:
            self.stats.orphan_rewards += 1
        if not decisions:
            return []
        epoch.joined[key] = decisions[0].record.event_time
        self.stats.duplicates += len(decisions) - 1
        if self.default_reward is None:
            self.stats.dropped_decisions += 1
            return []
        self.stats.defaulted += 1
        return [self._default(decisions[0].record, now_us)]

    def _release(self, key: Key) -> None:
        for h in self.decisions.pop(key, []):
            self.held_bytes -= h.size
        reward = self.rewards.pop(key, None)
        if reward is not None:
            self.held_bytes -= reward.size

    def _evict_stalest_epoch(self, now_us: int) -> None:
        """Resolve and forget the epoch seen longest ago (many epochs: forged ids, or replays).

        Its defaults are kept for the next `expire` to emit (they are not lost).
        """
        clock, stalest = min(self.epochs.items(), key=lambda item: item[1].last_seen_us)
        while stalest.deadlines:
            _, _, key = heapq.heappop(stalest.deadlines)
            self.stats.evicted += 1
            self._early.extend(self._resolve(key, stalest, now_us))
        del self.epochs[clock]

    def _evict_excess(self, now_us: int) -> list[Experience]:
        out: list[Experience] = []
        limits = self.limits
        while (
            len(self.decisions) + len(self.rewards) > limits.max_held
            or self.held_bytes > limits.max_held_bytes
        ):
            candidates = [(e.deadlines[0], e) for e in self.epochs.values() if e.deadlines]
            if not candidates:
                break
            (_, _, key), epoch = min(candidates, key=lambda c: c[0])
            heapq.heappop(epoch.deadlines)
            self.stats.evicted += 1
            out += self._resolve(key, epoch, now_us)
        return out

    def _match(self, decision: Decision, reward: Reward, now_us: int) -> Experience:
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
