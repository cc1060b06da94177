"""A stand-in inference for client tests: answers each observation with a decision, on a thread.

It reads every partition of the observations topic without a group and produces one Decision
per Observation, keyed by territory like the real service. `paused` holds answers back (they
are sent, late, on resume); `gate` chooses SEND or WAIT.
"""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import TopicPartition

from runtime.kafka import make_producer, make_reader
from runtime.settings import KafkaSettings
from runtime.topics import DECISIONS, OBSERVATIONS
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import GateDecision
from schemas.records import Decision, Observation
from tests import samples

CODEC = AvroSingleObjectCodec.default()


class EchoInference:
    """Decides every observation on the observations topic."""

    def __init__(self, settings: KafkaSettings, gate: GateDecision = GateDecision.SEND) -> None:
        self.settings = settings
        self.gate = gate
        self.paused = threading.Event()
        self.held: list[Observation] = []
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EchoInference:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def decision_for(self, obs: Observation) -> Decision:
        return samples.decision(
            decision_id=uuid.uuid4().hex,
            observation_id=obs.observation_id,
            territory_id=obs.territory_id,
            seq=obs.seq,
            event_time=obs.event_time,
            epoch=obs.epoch,
            gate_decision=self.gate,
        )

    def _run(self) -> None:
        consumer = make_reader(self.settings)
        producer = make_producer(self.settings)
        topic = self.settings.topic(OBSERVATIONS)
        parts = range(self.settings.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        try:
            while not self._stop.is_set():
                for message in consumer.consume(100, 0.05):
                    if message.error() is None:
                        self.held.append(CODEC.decode(message.value() or b"", Observation))
                if self.paused.is_set():
                    continue
                for obs in self.held:
                    value = CODEC.encode(self.decision_for(obs))
                    producer.produce(
                        self.settings.topic(DECISIONS), value, obs.territory_id.encode()
                    )
                    self.answered += 1
                self.held.clear()
                producer.poll(0)
                producer.flush(5)
        finally:
            consumer.close()
