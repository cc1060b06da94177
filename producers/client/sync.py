"""The game-side client, threaded: publish an Observation, get its Decision back by a deadline.

One `GameClient` per game-server instance. It owns one producer (observations, rewards) and
one consumer of the decisions topic that belongs to no consumer group: it is assigned the
partitions its territories hash to, from their end as of the first observation, so an
instance reads only the decisions of its own territories and needs no coordination with any
other. A reader thread judges each decision with the protocol's `Ledger` and wakes the
caller waiting on it. `decide` never raises on the hot path: when no decision comes before
the deadline (inference behind, the broker away) it returns the configured fallback,
counted by reason. librdkafka reconnects by itself (see PRODUCER below); a producer that
hits a fatal error is replaced before the next observation.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_END, KafkaError, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from producers.client.core import (
    Fallback,
    Ledger,
    Numbering,
    Served,
    TerritoryState,
    Verdict,
    new_id,
    observation_of,
    reward_of,
    serve,
)
from producers.client.metrics import ClientMetrics
from runtime.errors import SettingsError
from runtime.kafka import make_producer, make_reader
from runtime.logs import RateLimit
from runtime.settings import KafkaSettings
from runtime.topics import DECISIONS, OBSERVATIONS, REWARDS
from schemas.codec import AvroSingleObjectCodec, Codec
from schemas.errors import SchemaError
from schemas.records import Action, Decision, Observation, Reward

logger = logging.getLogger(__name__)

# A game server outlives brokers. An idempotent producer whose broker lost its state (a
# restarted Tansu, a cluster rebuilt) stalls: measured, nothing delivered in 30 s and no fatal
# error to act on. So the client's producer is not idempotent: acks=all, one request in
# flight per broker (a retry cannot reorder a territory's records), and a retry that may
# write a record twice, which the protocol absorbs (duplicates are judged by observation_id
# in the game and by tick in the joiner).
PRODUCER = {"enable.idempotence": False, "acks": "all", "max.in.flight.requests.per.connection": 1}


@dataclass(frozen=True)
class ClientConfig:
    """How the client waits and what it does when no decision comes."""

    deadline_s: float = 1.0  # seconds decide() waits for the decision
    fallback: Fallback = Fallback.WAIT  # what a missed deadline serves
    epoch: str = ""  # this run of the game; empty: a fresh one per client
    territories: tuple[str, ...] = ()  # read these partitions from the start (others: on sight)
    remember: int = 100_000  # closed observations remembered to judge late/duplicate
    poll_timeout_s: float = 0.05  # the reader thread's poll

    def __post_init__(self) -> None:
        """Refuse values that cannot work, naming them."""
        if not self.deadline_s > 0:
            raise SettingsError(f"ClientConfig.deadline_s={self.deadline_s!r}: must be > 0")
        if not isinstance(self.fallback, Fallback):
            raise SettingsError(f"ClientConfig.fallback={self.fallback!r}: must be a Fallback")
        if self.remember < 1:
            raise SettingsError(f"ClientConfig.remember={self.remember!r}: must be >= 1")
        if len(self.epoch) > 64:
            raise SettingsError(f"ClientConfig.epoch={self.epoch!r}: at most 64 characters")


@dataclass(frozen=True)
class ClientStats:
    """What the client did so far (a snapshot)."""

    served: int  # observations answered by the loop's decision
    fallbacks: Mapping[str, int]  # observations answered by the fallback, by reason
    verdicts: Mapping[str, int]  # decisions read, by verdict (accepted, duplicate, late, unknown)
    publish_errors: int

    @property
    def fallback_total(self) -> int:
        """Every fallback, whatever its reason."""
        return sum(self.fallbacks.values())


def partition_of(territory_id: str, partitions: int) -> int:
    """The partition librdkafka's default partitioner (consistent_random) puts a key in."""
    return (zlib.crc32(territory_id.encode()) & 0xFFFFFFFF) % partitions


@dataclass
class _Waiter:
    observation: Observation
    started: float
    event: threading.Event = field(default_factory=threading.Event)
    wake: Callable[[], None] | None = None
    failed: str | None = None  # a fallback reason known before any wait


class GameClient:
    """Publishes observations and rewards, serves decisions; thread-safe."""

    def __init__(
        self,
        kafka: KafkaSettings,
        config: ClientConfig | None = None,
        *,
        registry: CollectorRegistry | None = None,
        codec: Codec | None = None,
    ) -> None:
        """Connect; raise SettingsError when the decisions topic is not there."""
        self.config = config or ClientConfig()
        self.kafka = kafka
        self.codec = codec or AvroSingleObjectCodec.default()
        self.metrics = ClientMetrics.create(registry or CollectorRegistry())
        self.topics = {n: kafka.topic(n) for n in (OBSERVATIONS, DECISIONS, REWARDS)}
        self.epoch = Numbering(self.config.epoch or None).epoch
        self._numbering = Numbering(self.epoch)
        self._lock = threading.Lock()
        self._ledger = Ledger(self.config.remember)
        self._waiters: dict[str, _Waiter] = {}
        self._last: dict[str, Action] = {}
        self._served = 0
        self._fallbacks: dict[str, int] = {}
        self._publish_errors = 0
        self._producer_fatal = False
        self._replace_lock = threading.Lock()
        self._log = RateLimit(10.0)
        self._producer = make_producer(kafka, error_cb=self._on_error, **PRODUCER)
        self._consumer = make_reader(kafka, error_cb=self._on_error)
        self._partitions = self._partition_count()
        self._assigned: set[int] = set()
        self._assign_lock = threading.Lock()
        self._requests: list[tuple[set[int], threading.Event]] = []
        self._reader_started = False
        self._assign(self.config.territories)
        self._stop = threading.Event()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="queen-client", daemon=True)
        self._reader_started = True
        self._reader.start()

    # -- the game's calls -----------------------------------------------------------------

    def decide(
        self, state: TerritoryState | Observation, deadline_s: float | None = None
    ) -> Served:
        """Publish the observation of `state`; return its decision, or the fallback in time.

        Nothing the loop or the broker does makes it raise. A `state` outside the contract
        (schemas/limits.py) raises InvalidRecord naming the field: a bug of the caller's.
        """
        waiter = self.start(state)
        if waiter.failed is None:
            waiter.event.wait(self.config.deadline_s if deadline_s is None else deadline_s)
        return self.finish(waiter)

    def report(
        self,
        served: Served,
        reward: float,
        components: Mapping[str, float],
        *,
        event_time: int | None = None,
        rules_version: int | None = None,
    ) -> Reward:
        """Publish the Reward of the tick `served` answered (event_time: ms, default now)."""
        obs = served.observation
        now_ms = time.time_ns() // 1_000_000
        record = reward_of(
            obs,
            served.decision,
            reward=reward,
            components=components,
            event_time=max(obs.event_time, now_ms) if event_time is None else event_time,
            emitted_at=time.time_ns() // 1000,
            rules_version=obs.rules_version if rules_version is None else rules_version,
        )
        self._publish(REWARDS, record)
        return record

    def stats(self) -> ClientStats:
        """Served, fallbacks by reason, decisions by verdict, publish errors so far."""
        with self._lock:
            return ClientStats(
                self._served,
                dict(self._fallbacks),
                {v.value: n for v, n in self._ledger.counts.items()},
                self._publish_errors,
            )

    def close(self, timeout: float = 10.0) -> None:
        """Stop reading, deliver what is queued (up to `timeout` s), close both clients."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._reader.join(timeout)
        with self._lock:
            waiters = list(self._waiters.values())
        for waiter in waiters:
            waiter.failed = waiter.failed or "closed"
            waiter.event.set()
        left = self._producer.flush(timeout)
        if left:
            logger.warning("closing with %d records undelivered", left)
        self._consumer.close()

    def __enter__(self) -> GameClient:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(self, *_exc: object) -> None:
        """Close."""
        self.close()

    # -- the two halves of decide (the asyncio client waits in between) ---------------------

    def start(
        self, state: TerritoryState | Observation, wake: Callable[[], None] | None = None
    ) -> _Waiter:
        """Number and publish the observation; `wake` is called (reader thread) on its decision."""
        if isinstance(state, Observation):
            obs = state
        else:
            with self._lock:
                seq = self._numbering.next_seq(state.territory_id)
            now_us = time.time_ns() // 1000
            obs = observation_of(
                state,
                observation_id=new_id(),
                seq=seq,
                epoch=self.epoch,
                event_time=now_us // 1000,
                emitted_at=now_us,
            )
        self._assign((obs.territory_id,))
        waiter = _Waiter(obs, time.monotonic(), wake=wake)
        with self._lock:
            self._ledger.open(obs.observation_id)
            self._waiters[obs.observation_id] = waiter
        if self._closed:
            waiter.failed = "closed"
        elif not self._publish(OBSERVATIONS, obs):
            waiter.failed = "publish_failed"
        return waiter

    def finish(self, waiter: _Waiter) -> Served:
        """Close the observation: its decision if one came, else the fallback (counted)."""
        obs = waiter.observation
        with self._lock:
            self._waiters.pop(obs.observation_id, None)
            decision = self._ledger.close(obs.observation_id)
            last = self._last.get(obs.territory_id)
            served = serve(obs, decision, self.config.fallback, last, waiter.failed or "deadline")
            if decision is not None:
                self._served += 1
                if served.send and served.action is not None:
                    self._last[obs.territory_id] = served.action
            else:
                reason = served.fallback or "deadline"
                self._fallbacks[reason] = self._fallbacks.get(reason, 0) + 1
        if decision is not None:
            self.metrics.served.inc()
            self.metrics.round_trip.observe(time.monotonic() - waiter.started)
        else:
            self.metrics.fallbacks.labels(reason=served.fallback).inc()
        return served

    # -- Kafka -------------------------------------------------------------------------------

    def _partition_count(self) -> int:
        topic = self.topics[DECISIONS]
        try:
            metadata = self._consumer.list_topics(topic, timeout=10.0)
        except KafkaException as exc:
            msg = f"KAFKA_BOOTSTRAP_SERVERS={self.kafka.bootstrap_servers!r}: {exc}"
            raise SettingsError(msg) from exc
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            msg = (
                f"topic {topic} not found at {self.kafka.bootstrap_servers!r} "
                f"(QUEEN_TOPIC_PREFIX={self.kafka.topic_prefix!r}): create it with "
                "python -m runtime.topics"
            )
            raise SettingsError(msg)
        return len(found.partitions)

    def _assign(self, territories: tuple[str, ...] | list[str]) -> None:
        """Read the partitions of `territories` not read yet, from their end as of now.

        The end is read before the territory's first observation is published, so its
        decision cannot be skipped (OFFSET_END resolved later could pass it). Once the reader
        thread runs, it does the assignment between two polls (a consumer call from another
        thread waits out the poll in progress, seconds on Tansu); the caller waits for it.
        """
        wanted = {partition_of(t, self._partitions) for t in territories} - self._assigned
        if not wanted:
            return
        if not self._reader_started:
            self._assign_now(wanted)
            return
        done = threading.Event()
        with self._assign_lock:
            self._requests.append((wanted, done))
        if not done.wait(5.0):
            self._warn("assign", "assigning partitions %s took over 5 s", sorted(wanted))

    def _assign_now(self, wanted: set[int]) -> None:
        wanted = wanted - self._assigned
        if not wanted:
            return
        topic = self.topics[DECISIONS]
        assignment = []
        for p in sorted(wanted):
            try:
                _low, end = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=5.0
                )
            except KafkaException:
                end = OFFSET_END  # the broker is away: from wherever the end is then
            assignment.append(TopicPartition(topic, p, end))
        self._consumer.incremental_assign(assignment)
        self._assigned |= wanted

    def _serve_requests(self) -> None:
        with self._assign_lock:
            requests, self._requests = self._requests, []
        for wanted, done in requests:
            try:
                self._assign_now(wanted)
            except KafkaException as exc:
                self._warn("assign", "assigning partitions %s: %s", sorted(wanted), exc)
            done.set()

    def _read(self) -> None:
        while not self._stop.is_set():
            self._serve_requests()
            try:
                # poll waits for the first record only; consume(n, t) would wait out t
                # whenever fewer than n records are there (latency for nothing)
                first = self._consumer.poll(self.config.poll_timeout_s)
                messages = [] if first is None else [first, *self._consumer.consume(499, 0)]
                self._producer.poll(0)  # delivery reports of observations and rewards
            except (KafkaException, RuntimeError) as exc:
                self._warn("consume", "decisions consumer: %s", exc)
                time.sleep(self.config.poll_timeout_s)
                continue
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        self._warn(f"c{error.code()}", "decisions consumer: %s", error.str())
                    continue
                try:
                    decision = self.codec.decode(message.value() or b"", Decision)
                except SchemaError as exc:
                    self.metrics.undecodable.inc()
                    self._warn("decode", "a decision did not decode: %s", exc)
                    continue
                try:
                    self._offer(decision)
                except Exception as exc:  # the reader thread must outlive any one record
                    self._warn("offer", "a decision could not be taken: %r", exc)

    def _offer(self, decision: Decision) -> None:
        with self._lock:
            verdict = self._ledger.offer(decision)
            waiter = self._waiters.get(decision.observation_id)
        self.metrics.decisions.labels(verdict=verdict.value).inc()
        if verdict is Verdict.ACCEPTED and waiter is not None:
            waiter.event.set()
            if waiter.wake is not None:
                waiter.wake()

    def _publish(self, name: str, record: Observation | Reward) -> bool:
        """Queue a record; False (counted) when it cannot be. Never raises for Kafka."""
        value = self.codec.encode(record)  # an invalid record is the caller's bug: it raises
        if self._producer_fatal:
            with self._replace_lock:
                if self._producer_fatal:
                    self._replace_producer()
        for _ in range(3):
            try:
                self._producer.produce(
                    self.topics[name],
                    value,
                    record.territory_id.encode(),
                    on_delivery=self._on_delivery,
                )
                self.metrics.published.labels(topic=name).inc()
                return True
            except BufferError:
                self._producer.poll(0.01)
            except KafkaException as exc:
                self._warn("produce", "publishing to %s failed: %s", name, exc)
                break
        with self._lock:
            self._publish_errors += 1
        self.metrics.publish_errors.inc()
        return False

    def _replace_producer(self) -> None:
        self._producer_fatal = False
        old, self._producer = (
            self._producer,
            make_producer(self.kafka, error_cb=self._on_error, **PRODUCER),
        )
        old.flush(0)
        logger.warning("the producer hit a fatal error: replaced (records it held are lost)")

    def _on_delivery(self, error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            with self._lock:
                self._publish_errors += 1
            self.metrics.publish_errors.inc()
            self._warn("delivery", "a record was not delivered: %s", error.str())

    def _on_error(self, error: KafkaError) -> None:
        self.metrics.kafka_errors.inc()
        if error.fatal():
            self._producer_fatal = True
        self._warn(f"e{error.code()}", "Kafka client: %s", error.str())

    def _warn(self, key: str, fmt: str, *args: object) -> None:
        held = self._log.allow(key)
        if held is not None:
            logger.warning(fmt + " (%d like it held back)", *args, held)
