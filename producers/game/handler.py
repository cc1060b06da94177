"""The game's handler: each tick, observations out; decisions in; the world steps; rewards out.

It runs on the service loop like every other service: decisions come in through `handle`,
time goes on through `on_tick`. Tick `seq` starts by emitting one Observation per territory.
Until the tick ends (15 s of game time, divided by `speed` in wall time) the game collects the
decisions answering those observations; one that arrives after its tick ended is late and not
applied. Then the world steps with the SEND decisions and the game emits, per territory, the
Reward of tick `seq` (observed at `seq + 1`), naming the observation and the decision it acted
on, and the Observation of `seq + 1`. Every event carries the game's `epoch`, the id of this
run: a restarted game starts a new epoch, and seq and event time begin afresh in it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from typing_extensions import override

from producers.client.core import TerritoryState, observation_of, reward_of
from producers.game.book import DecisionBook
from producers.game.rules import RulesAnnouncer
from producers.game.scoreboard import score_tick
from queen.reward import RewardCalculator
from queen.state import TerritoryBatch, territory_id
from queen.world import TICK_SECONDS, World
from runtime.handler import Handler, Incoming, Outgoing
from runtime.logs import RateLimit
from schemas.records import Observation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GameTopics:
    """Where the game writes."""

    observations: str
    rewards: str


def new_observation_id() -> str:
    """A fresh observation id (UUID hex)."""
    return uuid.uuid4().hex


class GameHandler(Handler):
    """Runs the world on a clock; the loop carries its events."""

    def __init__(
        self,
        world: World,
        topics: GameTopics,
        speed: float,
        epoch: str,
        metrics: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        new_id: Callable[[], str] = new_observation_id,
        ticks: int | None = None,
        on_done: Callable[[], None] = lambda: None,
        rules: RulesAnnouncer | None = None,
    ) -> None:
        """Play `world` at `speed` game seconds per wall second, as run `epoch`.

        After `ticks` ticks (None: never) it emits nothing more and calls `on_done`. With
        `rules`, each rule set the world plays is published ahead of its first observations.
        """
        self.world = world
        self.topics = topics
        self.tick_wall = TICK_SECONDS / speed
        self.epoch = epoch
        self.metrics = metrics
        self.clock = clock
        self.wall_us = wall_us
        self.new_id = new_id
        self.ticks = ticks
        self.on_done = on_done
        self.rules = rules
        self.calculator = RewardCalculator()
        self.epoch_ms = wall_us() // 1000  # game time of tick 0
        self.played = 0
        self.book: DecisionBook | None = None
        self.observed: list[Observation] = []  # the current tick's, territory i at i
        self.deadline = 0.0
        self._earlier: deque[Sequence[str]] = deque(maxlen=4)  # recent ticks' observation ids
        self._late_log = RateLimit(10.0)

    @override
    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing]:
        """Offer each decision to the current tick's book."""
        if self.book is not None:
            for item in batch:
                self.book.offer(item.record)
        return []

    @override
    def on_tick(self, now: float) -> list[Outgoing]:
        """Start the game, or end the current tick when its time is up."""
        if self.book is None:
            return self._observe(self.world.observe())
        if self.clock() < self.deadline or (self.ticks is not None and self.played >= self.ticks):
            return []
        out = self._step(self.book)
        if self.ticks is not None and self.played >= self.ticks:
            self.on_done()
        return out

    def _step(self, book: DecisionBook) -> list[Outgoing]:
        action, send = book.actions()
        rules = self.world.rules  # the rules this step is played under
        result = self.world.step(action, send)
        rewards = self.calculator.calculate_batch(
            result.before, result.after, action, result.applied, result.rules_version
        )
        event_time = self.epoch_ms + int(self.world.tick * TICK_SECONDS * 1000)
        emitted = self.wall_us()
        out = []
        for i in range(len(result.before)):
            total, components = rewards.row(i)
            reward = reward_of(
                self.observed[i],
                book.decisions.get(i),
                reward=total,
                components=components,
                event_time=event_time,
                emitted_at=emitted,
                rules_version=result.rules_version,
            )
            out.append(Outgoing(self.topics.rewards, reward.territory_id.encode(), reward))
        self.played += 1
        if self.metrics is not None:
            self.metrics.tick(book, float(rewards.total.mean()), self.world.rules.version)
            self.metrics.score(score_tick(result.before, action, send, rules))
        if book.late:
            held = self._late_log.allow("late")
            if held is not None:
                logger.warning(
                    "tick %d: %d decisions came after their tick ended (%.2f s of wall time) "
                    "and were not applied: inference is behind, or an instance is restarting "
                    "(%d such lines held back)",
                    self.world.tick - 1,
                    book.late,
                    self.tick_wall,
                    held,
                )
        return out + self._observe(self.world.observe())  # new matches may have started

    def _observe(self, batch: TerritoryBatch) -> list[Outgoing]:
        """Emit the observations of the current tick and open its book."""
        event_time = self.epoch_ms + int(self.world.tick * TICK_SECONDS * 1000)
        emitted = self.wall_us()
        rules = self.world.rules.version
        out = [] if self.rules is None else self.rules.announce(self.world.rules)
        ids = [self.new_id() for _ in range(len(batch))]
        self.observed = []
        for i in range(len(batch)):
            state = TerritoryState(
                territory_id=territory_id(int(batch.territory[i])),
                rules_version=rules,
                resources=float(batch.resources[i]),
                income=float(batch.income[i]),
                upkeep=float(batch.upkeep[i]),
                base_health=float(batch.base_health[i]),
                units_lost=int(batch.units_lost[i]),
                chunk_threat=tuple(batch.chunk_threat[i].tolist()),
                chunk_units=tuple(batch.chunk_units[i].tolist()),
                unit_counts=tuple(batch.unit_counts[i].tolist()),
                new_threat=tuple(batch.new_threat[i].tolist()),
            )
            obs = observation_of(
                state,
                observation_id=ids[i],
                seq=int(batch.seq[i]),
                epoch=self.epoch,
                event_time=event_time,
                emitted_at=emitted,
            )
            self.observed.append(obs)
            out.append(Outgoing(self.topics.observations, obs.territory_id.encode(), obs))
        if self.book is not None:
            self._earlier.append(self.book.observation_ids)
        earlier = frozenset(oid for ids_ in self._earlier for oid in ids_)
        self.book = DecisionBook(ids, earlier)
        self.deadline = self.clock() + self.tick_wall
        if self.metrics is not None:
            self.metrics.observations.inc(len(batch))
        return out
