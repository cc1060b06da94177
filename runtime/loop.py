"""The service loop: poll → decode → handle → produce → commit, with dead letters and signals.

Handlers are pure: they take decoded records and return what to emit; the loop owns every
Kafka call. One iteration reads like this:

    messages = consume a batch
    decode each (bad bytes → dead letter, the loop goes on)
    outputs = handler.handle(batch, now)        # Outgoing records, or Rejected inputs
    produce outputs; dead-letter rejected inputs
    every tick_interval:   handler.on_tick(now) → produce (time-driven output, e.g. timeouts)
    every commit_interval: flush the producer, THEN commit offsets (or commit the transaction)
    beat the heartbeat; stop when the stop flag is set, after the batch in hand

Offsets committed are the next offset after the last handled record of each partition, unless
the handler lowers them (`commit_positions`, e.g. the joiner keeps pending records uncommitted).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, TopicPartition

from runtime.dead_letter import DeadLetterPublisher
from runtime.errors import KafkaFatalError
from runtime.health import Heartbeat
from runtime.metrics import LoopMetrics
from schemas.codec import Codec
from schemas.enums import ErrorKind
from schemas.errors import SchemaError

logger = logging.getLogger(__name__)

Position = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A decoded record and the message it came from."""

    record: Any
    message: Any


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to produce."""

    topic: str
    key: bytes
    record: Any


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input the handler refuses; it goes to the dead-letter topic with `error`."""

    incoming: Incoming
    error: Exception
    kind: ErrorKind = ErrorKind.INVALID_EVENT


class Handler(Protocol):
    """What a service plugs into the loop.

    Optional methods the loop calls when present: `on_tick(now) -> Iterable[Outgoing]`,
    `commit_positions(positions) -> positions`, `on_revoke(partitions)`.
    """

    def handle(self, batch: list[Incoming], now: float) -> Iterable[Outgoing | Rejected]:
        """Return what to emit for a batch of decoded records."""
        ...


@dataclass(frozen=True)
class LoopConfig:
    """How the loop polls and commits."""

    batch_size: int = 500  # records per consume() call
    poll_timeout: float = 0.05  # seconds consume() waits for the first record
    commit_interval: float = 1.0  # seconds between commits
    tick_interval: float = 0.25  # seconds between handler.on_tick calls
    transactional: bool = False  # produce and commit offsets in Kafka transactions
    max_buffer_retries: int = 50  # BufferError retries (each polls 0.1 s) before giving up


def install_signal_handlers(stop: threading.Event) -> None:
    """First SIGTERM/SIGINT sets `stop` (finish the batch, flush, commit); a second exits."""

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            logger.warning("second signal %s: exiting now", signum)
            os._exit(128 + signum)
        logger.info("signal %s: stopping after the current batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


class ServiceLoop:
    """Runs a handler over the topics of `record_types` until the stop flag is set."""

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        codec: Codec,
        record_types: Mapping[str, type],
        handler: Any,
        dead_letters: DeadLetterPublisher,
        metrics: LoopMetrics,
        config: LoopConfig | None = None,
    ) -> None:
        """Wire the loop; `record_types` maps each input topic to its record type."""
        self.consumer = consumer
        self.producer = producer
        self.codec = codec
        self.record_types = dict(record_types)
        self.handler = handler
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.config = config or LoopConfig()
        self.heartbeat = Heartbeat()
        self._positions: dict[Position, int] = {}
        self._committed: dict[Position, int] = {}
        self._delivery_error: KafkaError | None = None
        self._in_transaction = False
        self._last_commit = self._last_tick = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        """Subscribe and loop until `stop` is set; then commit what was handled and close."""
        self.consumer.subscribe(list(self.record_types), on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                self.run_once()
            self.commit()
        finally:
            self.consumer.close()
            logger.info("loop stopped; consumer closed")

    def run_once(self) -> None:
        """One iteration: a batch, the periodic tick and commit, the heartbeat."""
        messages = self._poll_batch()
        if messages:
            self._process(messages)
        now = time.monotonic()
        if now - self._last_tick >= self.config.tick_interval and hasattr(self.handler, "on_tick"):
            self._last_tick = now
            self._emit(self.handler.on_tick(time.time()))
        if now - self._last_commit >= self.config.commit_interval:
            self.commit()
        self.heartbeat.beat()
        self.metrics.heartbeat.set(self.heartbeat.last)

    def _poll_batch(self) -> list[Any]:
        """Wait up to poll_timeout for the first record, then take what is already queued.

        consume(n, timeout) would wait out the whole timeout whenever fewer than n records are
        there: latency for nothing under light load. Under heavy load the queue fills and
        batches grow by themselves.
        """
        first = self.consumer.poll(self.config.poll_timeout)
        if first is None:
            return []
        return [first, *self.consumer.consume(self.config.batch_size - 1, 0)]

    def _process(self, messages: list[Any]) -> None:
        started = time.perf_counter()
        batch: list[Incoming] = []
        consumed: dict[str, int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._client_error(error)
                continue
            topic = message.topic()
            self._positions[(topic, message.partition())] = message.offset() + 1
            consumed[topic] = consumed.get(topic, 0) + 1
            try:
                record: Any = self.codec.decode(message.value() or b"", self.record_types[topic])
            except SchemaError as exc:
                self._begin()
                self.dead_letters.publish(message, exc)
                continue
            batch.append(Incoming(record, message))
        for topic, count in consumed.items():
            self.metrics.consumed.labels(topic=topic).inc(count)
        self.metrics.batch_size.observe(len(batch))
        if batch:
            self._emit(self.handler.handle(batch, time.time()))
        self.metrics.handle_seconds.observe(time.perf_counter() - started)

    def _emit(self, outputs: Iterable[Outgoing | Rejected]) -> None:
        produced: dict[str, int] = {}
        for out in outputs:
            self._begin()
            if isinstance(out, Rejected):
                self.dead_letters.publish(out.incoming.message, out.error, out.kind)
            else:
                self._produce(out)
                produced[out.topic] = produced.get(out.topic, 0) + 1
        if produced:
            self.producer.poll(0)  # serve delivery callbacks once per batch, not per record
        for topic, count in produced.items():
            self.metrics.produced.labels(topic=topic).inc(count)

    def _produce(self, out: Outgoing) -> None:
        value = self.codec.encode(out.record)
        for _ in range(self.config.max_buffer_retries):
            try:
                self.producer.produce(out.topic, value, out.key, on_delivery=self._on_delivery)
                return
            except BufferError:
                self.producer.poll(0.1)
        raise KafkaFatalError(f"producer queue stayed full writing to {out.topic}")

    def _on_delivery(self, error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            self.metrics.delivery_errors.inc()
            if self._delivery_error is None:
                self._delivery_error = error

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaFatalError(f"fatal consumer error: {error.str()}", error.code())
        if error.code() != KafkaError._PARTITION_EOF:
            logger.warning("consumer error: %s", error.str())

    def _begin(self) -> None:
        if self.config.transactional and not self._in_transaction:
            self.producer.begin_transaction()
            self._in_transaction = True

    def _commit_positions(self) -> dict[Position, int]:
        positions = dict(self._positions)
        if hasattr(self.handler, "commit_positions"):
            positions = self.handler.commit_positions(positions)
        return {tp: off for tp, off in positions.items() if self._committed.get(tp) != off}

    def commit(self) -> None:
        """Flush the producer, then commit offsets (in the transaction when transactional)."""
        self._last_commit = time.monotonic()
        positions = self._commit_positions()
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        if self.config.transactional:
            if not self._in_transaction and not offsets:
                return
            self._begin()
            if offsets:
                metadata = self.consumer.consumer_group_metadata()
                self.producer.send_offsets_to_transaction(offsets, metadata)
            self.producer.commit_transaction()
            self._in_transaction = False
        else:
            self.producer.flush()
            if self._delivery_error is not None:
                error, self._delivery_error = self._delivery_error, None
                raise KafkaFatalError(f"a record was not delivered: {error.str()}", error.code())
            if not offsets:
                return
            self.consumer.commit(offsets=offsets, asynchronous=False)
        self._committed.update(positions)
        self.metrics.commits.inc()

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self.commit()
        for tp in partitions:
            self._positions.pop((tp.topic, tp.partition), None)
            self._committed.pop((tp.topic, tp.partition), None)
        if hasattr(self.handler, "on_revoke"):
            self.handler.on_revoke([(tp.topic, tp.partition) for tp in partitions])
