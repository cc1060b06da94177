"""The dead-letter path: a record a service cannot process becomes a DeadLetter event.

The DeadLetter keeps the raw key and value bytes, where they were read, the error kind and the
message; it is keyed by the source topic and counted by kind. The service then goes on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from schemas.codec import Codec
from schemas.enums import ErrorKind
from schemas.errors import SchemaError
from schemas.records import DeadLetter

logger = logging.getLogger(__name__)


def error_kind(error: BaseException, default: ErrorKind = ErrorKind.PROCESSING_ERROR) -> ErrorKind:
    """Return the ErrorKind of `error`: its own for schema errors, else `default`."""
    return error.kind if isinstance(error, SchemaError) else default


def dead_letter_for(
    message: Any, error: BaseException, kind: ErrorKind, service: str
) -> DeadLetter:
    """Build the DeadLetter of a consumed confluent Message (or stub) that failed."""
    return DeadLetter(
        source_topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        key=message.key(),
        value=message.value(),
        error_kind=kind,
        message=f"{type(error).__name__}: {error}"[:2000],
        service=service,
        failed_at=time.time_ns() // 1000,
    )


class DeadLetterPublisher:
    """Writes DeadLetters to the dead-letter topic through the service's producer."""

    def __init__(self, producer: Any, topic: str, service: str, codec: Codec, counter: Any) -> None:
        """Publish to `topic` for `service`; `counter` is a Counter labelled by kind."""
        self.producer = producer
        self.topic = topic
        self.service = service
        self.codec = codec
        self.counter = counter

    def publish(self, message: Any, error: BaseException, kind: ErrorKind | None = None) -> None:
        """Send `message` to the dead-letter topic with the reason `error`."""
        kind = kind or error_kind(error)
        letter = dead_letter_for(message, error, kind, self.service)
        logger.warning(
            "dead letter %s[%s]@%s %s: %s",
            letter.source_topic,
            letter.partition,
            letter.offset,
            kind.value,
            letter.message,
            extra={
                "topic": letter.source_topic,
                "partition": letter.partition,
                "offset": letter.offset,
            },
        )
        self.producer.produce(
            self.topic, key=letter.source_topic.encode(), value=self.codec.encode(letter)
        )
        self.producer.poll(0)
        self.counter.labels(kind=kind.value).inc()
