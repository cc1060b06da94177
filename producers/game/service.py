"""The game service: each tick, observations out; decisions in; the world steps; rewards out.

Tick `seq` starts by emitting one Observation per territory. Until the tick ends (15 s of game
time, divided by `speed` in wall time) the game collects decisions for `seq`; a decision that
arrives after its tick ended is late and not applied. Then the world steps with the SEND
decisions and the game emits, per territory, the Reward of tick `seq` (observed at `seq + 1`)
and the Observation of `seq + 1`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from producers.game.clock import DecisionBook
from queen.reward import RewardCalculator
from queen.state import TerritoryBatch, territory_id
from queen.world import TICK_SECONDS, World
from schemas.codec import Codec
from schemas.errors import SchemaError
from schemas.records import Decision, Observation, Reward

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GameTopics:
    """Where the game writes and reads."""

    observations: str
    rewards: str
    decisions: str


class GameService:
    """Runs the world on a clock, over Kafka."""

    def __init__(
        self,
        world: World,
        producer: Any,
        decisions: Any,
        codec: Codec,
        topics: GameTopics,
        speed: float,
        metrics: Any = None,
    ) -> None:
        """`decisions` is a consumer already assigned to the decisions topic."""
        self.world, self.producer, self.decisions, self.codec = world, producer, decisions, codec
        self.topics = topics
        self.tick_wall = TICK_SECONDS / speed
        self.metrics = metrics
        self.calculator = RewardCalculator()
        self.epoch_ms = time.time_ns() // 1_000_000

    def run(
        self,
        stop: threading.Event,
        ticks: int | None = None,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        """Play until `stop` is set or `ticks` ticks were played."""
        self._emit_observations(self.world.observe())
        played = 0
        while not stop.is_set() and (ticks is None or played < ticks):
            book = self._collect(self.world.tick, time.monotonic() + self.tick_wall, stop)
            self._step(book)
            played += 1
            beat()
        self.producer.flush(10)

    def _collect(self, seq: int, deadline: float, stop: threading.Event) -> DecisionBook:
        book = DecisionBook(len(self.world.observe()), seq)
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for message in self.decisions.consume(1000, min(remaining, 0.05)):
                if message.error() is not None:
                    continue
                try:
                    book.offer(self.codec.decode(message.value() or b"", Decision))
                except SchemaError as exc:
                    logger.warning("undecodable decision at offset %s: %s", message.offset(), exc)
            self.producer.poll(0)
        return book

    def _step(self, book: DecisionBook) -> None:
        action, send = book.actions()
        result = self.world.step(action, send)
        rewards = self.calculator.calculate_batch(
            result.before, result.after, action, result.applied, result.rules_version
        )
        event_time = self.epoch_ms + int(self.world.tick * TICK_SECONDS * 1000)
        emitted = time.time_ns() // 1000
        for i in range(len(result.before)):
            decision_id, status = book.status(i)
            total, components = rewards.row(i)
            reward = Reward(
                territory_id(int(result.before.territory[i])),
                int(result.before.seq[i]),
                event_time,
                emitted,
                result.rules_version,
                total,
                components,
                decision_id,
                status,
            )
            self._produce(self.topics.rewards, reward.territory_id, reward)
        self._emit_observations(result.after)
        if self.metrics is not None:
            self.metrics.tick(book, float(rewards.total.mean()), self.world.rules.version)

    def _emit_observations(self, batch: TerritoryBatch) -> None:
        event_time = self.epoch_ms + int(self.world.tick * TICK_SECONDS * 1000)
        emitted = time.time_ns() // 1000
        rules = self.world.rules.version
        for i in range(len(batch)):
            obs = Observation(
                observation_id=uuid.uuid4().hex,
                territory_id=territory_id(int(batch.territory[i])),
                seq=int(batch.seq[i]),
                event_time=event_time,
                emitted_at=emitted,
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
            self._produce(self.topics.observations, obs.territory_id, obs)
        if self.metrics is not None:
            self.metrics.observations.inc(len(batch))

    def _produce(self, topic: str, key: str, record: Any) -> None:
        value = self.codec.encode(record)
        while True:
            try:
                self.producer.produce(topic, value, key.encode())
                break
            except BufferError:
                self.producer.poll(0.1)
