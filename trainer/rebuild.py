"""Refilling the replay buffer after a restart from the tail of the experiences topic.

The tail ends, per partition, where the version the trainer resumes from had read to (its
`input_offsets`; the group's committed offsets for a version that predates them), never at the
high watermark (Tansu reports it wrong). From up to `capacity` records before that offset, the
newest `capacity` experiences (by when they were joined: event times of different epochs do not
compare) go back into the buffer, marked as already trained on; the service then consumes on
from the same offsets, so each experience enters one incarnation's buffer as new exactly once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import TopicPartition

from schemas.codec import Codec
from schemas.errors import SchemaError
from schemas.records import Experience
from trainer.buffer.buffer import ReplayBuffer

logger = logging.getLogger(__name__)


def committed_offsets(consumer: Any, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Return partition -> committed offset of `consumer`'s group (partitions with one)."""
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]
        return {
            tp.partition: tp.offset
            for tp in consumer.committed(partitions, timeout=timeout)
            if tp.offset >= 0
        }
    finally:
        consumer.close()


def read_tail(
    reader: Any,
    codec: Codec,
    topic: str,
    ends: dict[int, int],
    capacity: int,
    idle: float = 1.0,
    limit: float = 60.0,
) -> list[Experience]:
    """Read up to `capacity` records before each partition's end offset; return experiences."""
    if not ends:
        return []
    reader.assign([TopicPartition(topic, p, max(0, end - capacity)) for p, end in ends.items()])
    remaining = {p for p, end in ends.items() if end > 0}
    found: list[Experience] = []
    start = last = time.monotonic()
    while remaining and time.monotonic() - last < idle and time.monotonic() - start < limit:
        for message in reader.consume(1000, 0.1):
            last = time.monotonic()
            if message.error() is not None:
                continue
            p, offset = message.partition(), message.offset()
            if offset >= ends[p] - 1:
                remaining.discard(p)
            if offset >= ends[p]:
                continue
            try:
                found.append(codec.decode(message.value() or b"", Experience))
            except SchemaError as exc:
                logger.warning(
                    "skipping unreadable experience %s[%s]@%s: %s", topic, p, offset, exc
                )
    return found


def rebuild(
    buffer: ReplayBuffer,
    reader: Any,
    topic: str,
    codec: Codec,
    ends: dict[int, int],
) -> int:
    """Refill `buffer` from the tail of `topic` ending at `ends`; return how many went in."""
    try:
        experiences = read_tail(reader, codec, topic, ends, buffer.storage.capacity)
    finally:
        reader.close()
    experiences.sort(key=lambda e: e.joined_at)
    # Read before the restart, so trained on then: a later step is not their first use.
    added = sum(buffer.add(e, used=True) for e in experiences[-buffer.storage.capacity :])
    logger.info("replay buffer refilled with %d experiences from %s", added, topic)
    return added
