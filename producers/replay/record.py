"""The recorder: what the game topics carry, appended to a session file (`make run --record`).

It reads observations, decisions and rewards from their beginning, without a group, and
writes each valid record to the file as it reads it (so each territory's records stay in their
topic's order); a record that does not decode is counted and skipped. `stop()` reads on until
nothing new came for a moment, then closes the file.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from producers.replay.session import TOPIC_OF, SessionWriter
from runtime.kafka import make_reader
from runtime.settings import KafkaSettings
from schemas.codec import AvroSingleObjectCodec
from schemas.errors import SchemaError
from schemas.records import Decision, Observation, Reward

logger = logging.getLogger(__name__)
RECORDED = (Observation, Decision, Reward)


class Recorder:
    """Records the game topics of `settings` into `path` on a thread."""

    def __init__(self, settings: KafkaSettings, path: Path) -> None:
        """Open the file; call start()."""
        self.settings = settings
        self.writer = SessionWriter(path)
        self.codec = AvroSingleObjectCodec.default()
        self.types = {settings.topic(TOPIC_OF[t]): t for t in RECORDED}
        self.skipped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)

    def start(self) -> Recorder:
        """Start reading."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """Read what is left, close the file; return the records written."""
        self._stop.set()
        self._thread.join(timeout)
        self.writer.close()
        return self.writer.count

    def _run(self) -> None:
        consumer = make_reader(self.settings)
        assignment = []
        for topic in self.types:
            metadata = consumer.list_topics(topic, timeout=10.0)
            for p in sorted(metadata.topics[topic].partitions):
                assignment.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        consumer.assign(assignment)
        last_flush = quiet_since = time.monotonic()
        try:
            while True:
                messages = consumer.consume(500, 0.2)
                now = time.monotonic()
                if messages:
                    quiet_since = now
                self._write(messages)
                if now - last_flush > 1.0:
                    self.writer.flush()
                    last_flush = now
                if self._stop.is_set() and now - quiet_since > 1.0:
                    return
        finally:
            consumer.close()

    def _write(self, messages: list[Any]) -> None:
        for message in messages:
            if message.error() is not None:
                continue
            record_type = self.types[message.topic()]
            try:
                record = self.codec.decode(message.value() or b"", record_type)
            except SchemaError:
                self.skipped += 1
                continue
            self.writer.write(record)  # type: ignore[arg-type]
