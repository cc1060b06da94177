"""Small helpers for integration tests: read a topic whole, wait on a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import TopicPartition

from runtime.kafka import make_reader
from runtime.settings import KafkaSettings


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Return condition()'s first truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class TopicReader:
    """Reads every partition of a topic from the beginning, without a group; keeps what it read."""

    def __init__(self, settings: KafkaSettings, topic: str, partitions: int) -> None:
        self.consumer = make_reader(settings)
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.messages: list[Any] = []

    def poll(self) -> list[Any]:
        """Read what is there now; return everything read so far."""
        for message in self.consumer.consume(1000, 0.2):
            if message.error() is None:
                self.messages.append(message)
        return self.messages

    def poll_all(self, idle: float = 2.0, limit: float = 120.0) -> list[Any]:
        """Read until nothing new came for `idle` seconds; return everything read."""
        start = last = time.monotonic()
        seen = len(self.messages)
        while time.monotonic() - last < idle and time.monotonic() - start < limit:
            self.poll()
            if len(self.messages) > seen:
                seen, last = len(self.messages), time.monotonic()
        return self.messages

    def until(self, count: int, timeout: float = 20.0) -> list[Any]:
        """Read until at least `count` messages arrived."""
        return wait_for(
            lambda: len(self.poll()) >= count and self.messages, timeout, f"{count} messages"
        )

    def close(self) -> None:
        self.consumer.close()
