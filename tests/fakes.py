"""Fakes (not mocks) for tests of code that talks to Kafka through the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MessageStub:
    """A consumed message with the confluent Message methods the runtime calls."""

    _topic: str
    _value: bytes | None
    _partition: int = 0
    _offset: int = 0
    _key: bytes | None = None
    _error: Any = None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def error(self) -> Any:
        return self._error


@dataclass
class RecordingProducer:
    """A producer that keeps what it was given; deliveries succeed on flush."""

    produced: list[tuple[str, bytes | None, bytes | None]] = field(default_factory=list)
    pending: list[Any] = field(default_factory=list)
    flushes: int = 0

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        on_delivery: Any = None,
    ) -> None:
        self.produced.append((topic, key, value))
        if on_delivery is not None:
            self.pending.append(on_delivery)

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = -1) -> int:
        for callback in self.pending:
            callback(None, None)
        self.pending.clear()
        self.flushes += 1
        return 0


@dataclass
class ScriptedConsumer:
    """A consumer that hands out scripted batches and records commits."""

    batches: list[list[MessageStub]]
    commits: list[dict[tuple[str, int], int]] = field(default_factory=list)
    closed: bool = False
    subscribed: list[str] = field(default_factory=list)

    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None) -> None:
        self.subscribed = list(topics)

    def consume(self, _num: int, _timeout: float) -> list[MessageStub]:
        return self.batches.pop(0) if self.batches else []

    def poll(self, _timeout: float) -> MessageStub | None:
        """The first record of the next batch; consume() then hands out the rest."""
        if not self.batches or not self.batches[0]:
            if self.batches:
                self.batches.pop(0)
            return None
        return self.batches[0].pop(0)

    def commit(self, offsets: Any, asynchronous: bool = False) -> None:
        self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})

    def close(self) -> None:
        self.closed = True
