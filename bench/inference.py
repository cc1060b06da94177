"""Inference throughput on a real broker: the service's batched loop against a naive consumer.

Both read the same pre-produced observations from a topic and write decisions, in this process:
the batched one is the real ServiceLoop + InferenceHandler; the naive one decodes, infers on a
batch of one, gates, encodes and produces one message at a time, as a first consumer would.
"""

from __future__ import annotations

import cProfile
import threading
import time
import uuid
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from bench.profiling import Rate, ThreadClock, profiled
from consumers.inference.handler import InferenceHandler
from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot
from queen.model import initial_model
from queen.policy import ExplorationPolicy
from runtime.dead_letter import DeadLetterPublisher
from runtime.kafka import make_admin, make_consumer, make_producer
from runtime.loop import Incoming, LoopConfig, Outgoing, Rejected, ServiceLoop
from runtime.metrics import LoopMetrics
from runtime.settings import KafkaSettings
from runtime.topics import TopicSpec, ensure_topics
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Observation
from tests.samples import observation

CODEC = AvroSingleObjectCodec.default()


def prepare(settings: KafkaSettings, n: int, partitions: int = 4) -> tuple[str, str]:
    """Create a fresh input topic with `n` observations and an output topic; return both."""
    token = uuid.uuid4().hex[:8]
    source, sink = f"bench-{token}.observations", f"bench-{token}.decisions"
    ensure_topics(
        make_admin(settings),
        [
            TopicSpec(source, partitions),
            TopicSpec(sink, partitions),
            TopicSpec(f"bench-{token}.dead", 1),
        ],
    )
    producer = make_producer(settings, **{"linger.ms": 20})
    for i in range(n):
        obs = observation(i % 64, i // 64)
        producer.produce(source, CODEC.encode(obs), obs.territory_id.encode())
        if i % 10000 == 0:
            producer.poll(0)
    producer.flush(60)
    return source, sink


def batched(
    settings: KafkaSettings,
    source: str,
    sink: str,
    n: int,
    profile: cProfile.Profile | None = None,
) -> Rate:
    """Observations per second through the real service loop (first record to last decision).

    With `profile`, the loop runs under cProfile (slower: for where the time goes, not speed).
    """
    registry = CollectorRegistry()
    loop_metrics = LoopMetrics.create(registry, "inference")
    metrics = InferenceMetrics.create(registry)
    handler = InferenceHandler(
        ModelSlot(initial_model(0)), ExplorationPolicy(seed=0), sink, 0.0, metrics
    )
    producer = make_producer(settings)
    dead = DeadLetterPublisher(
        producer, source + ".dead", "bench", CODEC, loop_metrics.dead_letters
    )
    loop = ServiceLoop(
        make_consumer(settings, f"bench-{uuid.uuid4().hex[:8]}"),
        producer,
        CODEC,
        {source: Observation},
        handler,
        dead,
        loop_metrics,
        LoopConfig(batch_size=2000, poll_timeout=0.05, commit_interval=1.0),
    )
    stop = threading.Event()
    first: list[tuple[float, float]] = []  # (wall, the loop thread's CPU) at the first record
    original = handler.handle

    def timed(batch: Sequence[Incoming], now: float) -> list[Outgoing | Rejected]:
        # the clock starts at the first record
        if not first:
            first.append((time.perf_counter(), time.thread_time()))
        return original(batch, now)

    handler.handle = timed  # type: ignore[method-assign]
    thread = threading.Thread(target=profiled(loop.run, profile), args=(stop,))
    thread.start()
    clock = ThreadClock(thread)
    deadline = time.monotonic() + 600
    while (registry.get_sample_value("queen_inference_decisions_total", {"gate": "SEND"}) or 0) + (
        registry.get_sample_value("queen_inference_decisions_total", {"gate": "WAIT"}) or 0
    ) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    producer.flush(60)
    elapsed, cpu = time.perf_counter() - first[0][0], clock.cpu() - first[0][1]
    stop.set()
    thread.join(60)
    return Rate(n / elapsed, min(1.0, cpu / elapsed))


def naive(settings: KafkaSettings, source: str, sink: str, n: int) -> float:
    """Observations per second one message at a time: decode, infer on one, produce, poll."""
    consumer = make_consumer(settings, f"naive-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([source])
    producer = make_producer(settings, **{"linger.ms": 0})
    handler = InferenceHandler(ModelSlot(initial_model(0)), ExplorationPolicy(seed=0), sink)
    done, started = 0, None
    while done < n:
        message = consumer.poll(1.0)
        if message is None or message.error() is not None:
            continue
        if started is None:
            started = time.perf_counter()
        record = CODEC.decode(message.value() or b"", Observation)
        for out in handler.handle([Incoming(record, message)], time.time()):
            assert isinstance(out, Outgoing), "the bench's observations are all valid"
            producer.produce(out.topic, CODEC.encode(out.record), out.key)
            producer.poll(0)
        consumer.store_offsets(message)
        done += 1
    producer.flush(60)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return n / elapsed
