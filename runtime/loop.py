"""The service loop: poll → decode → handle → produce → commit, with dead letters and signals.

Handlers are pure (runtime/handler.py); the loop owns every Kafka call. One iteration:

    messages = consume a batch
    decode each (bad bytes → dead letter, the loop goes on)
    outputs = handler.handle(batch, now)        # Outgoing records, or Rejected inputs
              (raises → split the batch until the failing records are isolated, dead-letter
              them, handle the rest once)
    produce outputs; dead-letter rejected inputs
    every tick_interval:   handler.on_tick(now) → produce (time-driven output, e.g. timeouts)
    every commit_interval: flush the producer, THEN commit offsets (or commit the transaction)
    beat the heartbeat; stop when the stop flag is set, after the batch in hand

Offsets committed are the next offset after the last handled record of each partition, unless
the handler lowers them (`commit_positions`). With `LoopConfig(group=False)` the loop reads
every partition of its topics from the end, outside any consumer group, and commits nothing
(the game reads decisions this way). Every wait on the broker is bounded: a flush or commit
that cannot finish raises KafkaFatalError, and the process exits for its supervisor to restart.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from runtime.dead_letter import DeadLetterPublisher
from runtime.errors import KafkaFatalError
from runtime.handler import Handler, Incoming, Outgoing, Position, Rejected
from runtime.health import Heartbeat
from runtime.logs import RateLimit
from runtime.metrics import LoopMetrics
from schemas.codec import Codec
from schemas.enums import ErrorKind
from schemas.errors import SchemaError

__all__ = [
    "Handler",
    "Incoming",
    "LoopConfig",
    "Outgoing",
    "Position",
    "Rejected",
    "ServiceLoop",
    "install_signal_handlers",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopConfig:
    """How the loop polls and commits."""

    batch_size: int = 500  # records per consume() call
    poll_timeout: float = 0.05  # seconds consume() waits for the first record
    commit_interval: float = 1.0  # seconds between commits (flushes, with group=False)
    tick_interval: float = 0.25  # seconds between handler.on_tick calls
    transactional: bool = False  # produce and commit offsets in Kafka transactions
    max_buffer_retries: int = 50  # BufferError retries (each polls 0.1 s) before giving up
    group: bool = True  # False: read every partition from the end, no group, no commits
    broker_timeout: float = 30.0  # seconds a flush or a commit may take before it is fatal


# Commit errors that mean "this member's partitions are being handed over": the group goes
# on, and the records are read again by their next owner. Anything else is fatal.
REBALANCE_ERRORS = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
    }
)


def _lost_to_a_rebalance(exc: KafkaException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() in REBALANCE_ERRORS


def install_signal_handlers(stop: threading.Event, grace: float = 20.0) -> None:
    """First SIGTERM/SIGINT sets `stop`; a second exits at once, and so does the grace period.

    After the first signal the service finishes its batch, flushes and commits. Whatever it is
    doing (a rebuild, a blocked broker call), it is gone `grace` seconds later: a supervisor
    (Kubernetes, make run) never waits on a wedged process.
    """

    def hard_exit(signum: int) -> None:
        logger.error("still running %.0fs after signal %s: exiting now", grace, signum)
        logging.shutdown()
        os._exit(128 + signum)

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            logger.warning("second signal %s: exiting now", signum)
            os._exit(128 + signum)
        logger.info("signal %s: stopping after the current batch", signum)
        stop.set()
        timer = threading.Timer(grace, hard_exit, (signum,))
        timer.daemon = True
        timer.start()

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
        handler: Handler,
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
        self.clock: Callable[[], float] = time.time
        self._positions: dict[Position, int] = {}
        self._committed: dict[Position, int] = {}
        self._delivery_error: KafkaError | None = None
        self._in_transaction = False
        self._last_commit = self._last_tick = time.monotonic()
        self._log_limit = RateLimit(10.0)

    def run(self, stop: threading.Event) -> None:
        """Subscribe (or assign) and loop until `stop` is set; then commit what was handled."""
        if self.config.group:
            self.consumer.subscribe(
                list(self.record_types), on_assign=self._on_assign, on_revoke=self._on_revoke
            )
        else:
            self._assign_at_end()
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
        if now - self._last_tick >= self.config.tick_interval:
            self._last_tick = now
            self._tick()
        if now - self._last_commit >= self.config.commit_interval:
            self.commit()
        self.heartbeat.beat()
        self.metrics.heartbeat.set(self.heartbeat.last)

    def _assign_at_end(self) -> None:
        """Assign every partition at its end as of now (or where the handler says).

        The end is read before anything is produced, so no record written after the service
        started is skipped (an OFFSET_END resolved later could pass one). Where the broker
        reports a high watermark below the true end (Tansu), a few older records are re-read.
        """
        assignment = []
        timeout = self.config.broker_timeout
        for topic in self.record_types:
            metadata = self.consumer.list_topics(topic, timeout=timeout)
            partitions = sorted(metadata.topics[topic].partitions)
            starts = self.handler.on_assign([(topic, p) for p in partitions])
            for p in partitions:
                start = starts.get((topic, p))
                if start is None:
                    _low, start = self.consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=timeout
                    )
                assignment.append(TopicPartition(topic, p, start))
        self.consumer.assign(assignment)

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
                self._dead_letter(message, exc, exc.kind, exc.kind.value.lower())
                continue
            batch.append(Incoming(record, message))
        for topic, count in consumed.items():
            self.metrics.consumed.labels(topic=topic).inc(count)
        self.metrics.batch_size.observe(len(batch))
        if batch:
            self._emit(self._handle_isolated(batch, self.clock()))
        self.metrics.handle_seconds.observe(time.perf_counter() - started)

    def _handle_isolated(
        self, batch: Sequence[Incoming], now: float
    ) -> list[tuple[Outgoing, bytes] | Rejected]:
        """Handle `batch` and encode its output; on an exception, split until it is isolated.

        A record whose handling (or whose output's encoding) raises becomes a PROCESSING_ERROR
        dead letter; every other record of the batch is handled once.
        """
        try:
            out: list[tuple[Outgoing, bytes] | Rejected] = []
            for item in self.handler.handle(batch, now):
                if isinstance(item, Rejected):
                    out.append(item)
                else:
                    out.append((item, self.codec.encode(item.record)))
            return out
        except Exception as exc:  # whatever a record holds, it must not stop the service
            if len(batch) == 1:
                self.metrics.handler_errors.inc()
                held = self._log_limit.allow(f"handle:{type(exc).__name__}")
                if held is not None:
                    logger.exception("handler failed on one record (%d more held back)", held)
                return [Rejected(batch[0], exc, ErrorKind.PROCESSING_ERROR, "processing_error")]
            half = len(batch) // 2
            return [
                *self._handle_isolated(batch[:half], now),
                *self._handle_isolated(batch[half:], now),
            ]

    def _tick(self) -> None:
        try:
            outputs = [(o, self.codec.encode(o.record)) for o in self.handler.on_tick(self.clock())]
        except Exception:  # a tick that fails is retried on the next one
            self.metrics.handler_errors.inc()
            held = self._log_limit.allow("tick")
            if held is not None:
                logger.exception("handler tick failed (%d more held back)", held)
            return
        self._emit(outputs)

    def _emit(self, outputs: Iterable[tuple[Outgoing, bytes] | Rejected]) -> None:
        produced: dict[str, int] = {}
        for out in outputs:
            self._begin()
            if isinstance(out, Rejected):
                self._dead_letter(out.incoming.message, out.error, out.kind, out.reason)
            else:
                record, value = out
                self._produce(record.topic, record.key, value)
                produced[record.topic] = produced.get(record.topic, 0) + 1
        if produced:
            self.producer.poll(0)  # serve delivery callbacks once per batch, not per record
        for topic, count in produced.items():
            self.metrics.produced.labels(topic=topic).inc(count)

    def _dead_letter(self, message: Any, error: Exception, kind: ErrorKind, reason: str) -> None:
        self._begin()
        self.dead_letters.publish(message, error, kind)
        self.metrics.rejections.labels(reason=reason).inc()

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        for _ in range(self.config.max_buffer_retries):
            try:
                self.producer.produce(topic, value, key, on_delivery=self._on_delivery)
                return
            except BufferError:
                self.producer.poll(0.1)
        raise KafkaFatalError(f"producer queue stayed full writing to {topic}")

    def _on_delivery(self, error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            self.metrics.delivery_errors.inc()
            if self._delivery_error is None:
                self._delivery_error = error

    def _client_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaFatalError(f"fatal consumer error: {error.str()}", error.code())
        if error.code() != KafkaError._PARTITION_EOF:
            held = self._log_limit.allow(f"consumer:{error.code()}")
            if held is not None:
                logger.warning("consumer error: %s (%d more held back)", error.str(), held)

    def _begin(self) -> None:
        if self.config.transactional and not self._in_transaction:
            self.producer.begin_transaction()
            self._in_transaction = True

    def _commit_positions(self) -> dict[Position, int]:
        positions = self.handler.commit_positions(dict(self._positions))
        return {tp: off for tp, off in positions.items() if self._committed.get(tp) != off}

    def commit(self) -> None:
        """Flush the producer, then commit offsets (in the transaction when transactional)."""
        self._last_commit = time.monotonic()
        timeout = self.config.broker_timeout
        positions = self._commit_positions() if self.config.group else {}
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        try:
            if self.config.transactional:
                if not self._in_transaction and not offsets:
                    return
                self._begin()
                if offsets:
                    metadata = self.consumer.consumer_group_metadata()
                    self.producer.send_offsets_to_transaction(offsets, metadata, timeout)
                self.producer.commit_transaction(timeout)
                self._in_transaction = False
            else:
                left = self.producer.flush(timeout)
                if left:
                    msg = f"{left} records still undelivered after {timeout:.0f}s"
                    raise KafkaFatalError(msg)
                if self._delivery_error is not None:
                    error, self._delivery_error = self._delivery_error, None
                    msg = f"a record was not delivered: {error.str()}"
                    raise KafkaFatalError(msg, error.code())
                if not offsets:
                    return
                try:
                    self.consumer.commit(offsets=offsets, asynchronous=False)
                except KafkaException as exc:
                    if not _lost_to_a_rebalance(exc):
                        raise
                    held = self._log_limit.allow("commit-rebalance")
                    if held is not None:
                        logger.warning("commit skipped: %s (partitions move)", exc.args[0].str())
                    return  # the records are read again by whoever owns them next
        except KafkaException as exc:
            cause = exc.args[0] if exc.args else None
            text = cause.str() if isinstance(cause, KafkaError) else str(exc)
            code = cause.code() if isinstance(cause, KafkaError) else None
            raise KafkaFatalError(f"commit failed: {text}", code) from exc
        self._committed.update(positions)
        self.metrics.commits.inc()

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        starts = self.handler.on_assign([(tp.topic, tp.partition) for tp in partitions])
        if starts:
            for tp in partitions:
                offset = starts.get((tp.topic, tp.partition))
                if offset is not None:
                    tp.offset = offset
            consumer.assign(partitions)

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self.commit()
        for tp in partitions:
            self._positions.pop((tp.topic, tp.partition), None)
            self._committed.pop((tp.topic, tp.partition), None)
        self.handler.on_revoke([(tp.topic, tp.partition) for tp in partitions])
        self.metrics.forget_partitions((tp.topic, tp.partition) for tp in partitions)
