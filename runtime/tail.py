"""Reading a topic whole without trusting high watermarks (Tansu reports them wrong).

`TopicFollower` is the thread that follows one topic from its beginning outside any group
(the model-version, promotion and rule readers): it outlives any batch.
`batches_until_idle` consumes from an assigned consumer until no record arrives for `idle`
seconds (and the reported high watermarks are passed). Callers whose correctness needs every
record must not rely on it alone (the trainer also reserves its version numbers on disk).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

logger = logging.getLogger(__name__)


def assign_from_beginning(consumer: Any, *topics: str, timeout: float = 10.0) -> int:
    """Assign every partition of `topics` at its beginning; return the partition count."""
    assignment = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = metadata.topics[topic].partitions
        assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
    consumer.assign(assignment)
    return len(assignment)


class TopicFollower(threading.Thread):
    """A daemon thread reading `topic` from its beginning, no group, until `stop` is set.

    Subclasses implement `read_once` (one batch). An exception from it is counted in
    `failures`, logged, and reading goes on half a second later: nothing a record holds, nor a
    client hiccup, ends the thread. The consumer is closed when the thread ends.
    """

    def __init__(self, consumer: Any, topic: str, stop: threading.Event, name: str) -> None:
        """Follow `topic` with `consumer` (assigned here, not subscribed)."""
        super().__init__(name=name, daemon=True)
        self.consumer = consumer
        self.topic = topic
        self.stop = stop
        self.failures = 0

    def read_once(self, timeout: float = 0.1) -> Any:
        """Read and handle one batch."""
        raise NotImplementedError

    def run(self) -> None:
        """Assign from the beginning, then read batch after batch."""
        try:
            assign_from_beginning(self.consumer, self.topic)
            while not self.stop.is_set():
                try:
                    self.read_once()
                except Exception:  # the reader outlives anything: a record, a client hiccup
                    self.failures += 1
                    logger.exception("%s: batch failed; reading on", self.name)
                    self.stop.wait(0.5)
        finally:
            self.consumer.close()


def batches_until_idle(
    consumer: Any, idle: float = 1.0, limit: float = 60.0
) -> Iterator[list[Any]]:
    """Yield the records read, batch by batch, until `idle` seconds pass without one.

    Reading stops only once every assigned partition has also been read up to the high
    watermark it reported at the start (Tansu reports one at or below the true end, so this is
    necessary, not sufficient), or after `limit` seconds. A caller keeps what it needs of each
    batch, not the whole topic.
    """
    ends = {}
    for tp in consumer.assignment():
        low, high = consumer.get_watermark_offsets(tp, timeout=10.0)
        if high > max(low, 0):
            ends[(tp.topic, tp.partition)] = high
    start = last = time.monotonic()
    while time.monotonic() - start < limit:
        batch = consumer.consume(500, 0.1)
        good = [m for m in batch if m.error() is None]
        for m in good:
            key = (m.topic(), m.partition())
            if m.offset() + 1 >= ends.get(key, 0):
                ends.pop(key, None)
        if batch:
            last = time.monotonic()
        if good:
            yield good
        if not ends and time.monotonic() - last >= idle:
            return


def read_until_idle(consumer: Any, idle: float = 1.0, limit: float = 60.0) -> list[Any]:
    """Return the records read until `idle` seconds pass without one (or `limit` seconds)."""
    return [m for batch in batches_until_idle(consumer, idle, limit) for m in batch]
