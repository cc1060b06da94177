"""Reading a topic whole without trusting high watermarks (Tansu reports them wrong).

`read_until_idle` consumes from an assigned consumer until no record arrives for `idle`
seconds. Callers whose correctness needs every record must not rely on it alone (the trainer
also keeps versions increasing from its checkpoint).
"""

from __future__ import annotations

import time
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


def read_until_idle(consumer: Any, idle: float = 1.0, limit: float = 60.0) -> list[Any]:
    """Return the records read until `idle` seconds pass without one (or `limit` seconds)."""
    messages: list[Any] = []
    start = last = time.monotonic()
    while time.monotonic() - last < idle and time.monotonic() - start < limit:
        batch = consumer.consume(500, 0.1)
        for message in batch:
            if message.error() is None:
                messages.append(message)
        if batch:
            last = time.monotonic()
    return messages
