"""Reading a topic whole without trusting high watermarks (Tansu reports them wrong).

`batches_until_idle` consumes from an assigned consumer until no record arrives for `idle`
seconds (and the reported high watermarks are passed). Callers whose correctness needs every
record must not rely on it alone (the trainer also reserves its version numbers on disk).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition


def assign_from_beginning(consumer: Any, *topics: str, timeout: float = 10.0) -> int:
    """Assign every partition of `topics` at its beginning; return the partition count."""
    assignment = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = metadata.topics[topic].partitions
        assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
    consumer.assign(assignment)
    return len(assignment)


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
