"""Latency, hot-load and memory of a real inference process at a paced offered load.

A paced producer offers observations at `rate` per second, stamping `emitted_at`; inference (the
service, as a process) stamps `decided_at` into each decision, so latency comes from the
services' own timestamps. Meanwhile model versions are published every `every` seconds; hot-load
latency is a version's `created_at` to the first decision served with it. RSS is sampled from
/proc while it runs. Beside the service, a bare consumer process (bench.floor) reads the same
observations at the same moment: its latency is the broker's share of inference's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from queen.features import FEATURE_FINGERPRINT
from queen.model import ARCHITECTURE_FINGERPRINT, initial_model
from queen.rules import RULES_V1
from queen.weights import sha256_hex, to_safetensors
from runtime.broker import free_port
from runtime.kafka import make_admin, make_producer
from runtime.rule_book import record_of, rules_key
from runtime.settings import KafkaSettings
from runtime.signing import Signer, keygen, load_private_key
from runtime.topics import ensure_topics, topic_specs
from runtime.view import scrape
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Decision, ModelVersion
from tests.integration.kafka_helpers import TopicReader
from tests.samples import observation

CODEC = AvroSingleObjectCodec.default()


@dataclass
class LiveResult:
    """What one paced run measured."""

    offered_per_s: float
    decisions: int
    latency_ms: list[float]  # in the order the observations were offered
    hot_load_ms: list[float]
    rss_mb: list[float]
    floor_ms: list[float]  # the same observations, read at the same time by a bare consumer


def rss_mb(pid: int) -> float:
    """Resident set size of a process, in MB (0 once it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return 0.0
    return next((int(x.split()[1]) / 1024 for x in lines if x.startswith("VmRSS:")), 0.0)


def version_record(version: int, signer: Signer) -> ModelVersion:
    """A valid model version with fresh weights, signed by `signer`."""
    weights = to_safetensors(initial_model(version))
    return signer.sign(
        ModelVersion(
            "queen",
            version,
            version - 1,
            time.time_ns() // 1000,
            weights,
            sha256_hex(weights),
            ARCHITECTURE_FINGERPRINT,
            FEATURE_FINGERPRINT,
            None,
        )
    )


def run(bootstrap: str, seconds: float, rate: float = 2000.0, every: float = 0.5) -> LiveResult:
    """Offer `rate` observations/s for `seconds` to a real inference process and measure."""
    prefix = f"live-{uuid.uuid4().hex[:8]}."
    settings = KafkaSettings(bootstrap, prefix, 4)
    ensure_topics(make_admin(settings), topic_specs(settings))
    with inference_process(settings) as (service, port, signer):
        return _measure(settings, service, port, signer, seconds, rate, every)


@contextlib.contextmanager
def inference_process(
    settings: KafkaSettings,
) -> Iterator[tuple[subprocess.Popen[bytes], int, Signer]]:
    """A real inference process on `settings`' topics, trusting a fresh key pair of its own.

    The rules the bench's observations name (v1) are published first, as the game does: an
    observation of unknown rules would wait QUEEN_RULES_WAIT_S for them. Yields (the process,
    its metrics port, a signer of versions it will serve); the process is stopped and the keys
    removed on exit.
    """
    producer = make_producer(settings)
    rules = record_of(RULES_V1, "bench", time.time_ns() // 1000)
    producer.produce(settings.topic("rules"), CODEC.encode(rules), rules_key(rules.rules_version))
    producer.flush(10)
    port = free_port()
    with tempfile.TemporaryDirectory() as keys:
        private_path, public_path = keygen(keys)
        env = dict(
            os.environ,
            QUEEN_TRUSTED_KEYS=str(public_path.parent),
            # every version served as it arrives: hot-load is what is measured
            QUEEN_SERVING_MODE="immediate",
            KAFKA_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
            QUEEN_TOPIC_PREFIX=settings.topic_prefix,
            QUEEN_METRICS_PORT=str(port),
            QUEEN_INFERENCE_GROUP=f"g-{settings.topic_prefix}",
        )
        service = subprocess.Popen(
            [sys.executable, "-m", "consumers.inference"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield service, port, Signer(load_private_key(str(private_path)))
        finally:
            service.terminate()
            service.wait(30)


def _measure(
    settings: KafkaSettings,
    service: subprocess.Popen[bytes],
    port: int,
    signer: Signer,
    seconds: float,
    rate: float,
    every: float,
) -> LiveResult:
    """Offer observations to the running `service` and measure its decisions."""
    producer = make_producer(settings, **{"linger.ms": 1})
    rss: list[float] = []
    with (
        tempfile.TemporaryDirectory() as work,
        _Floor(settings, int(seconds * rate), Path(work)) as floor,
    ):
        _wait_ready(port, producer, settings)
        floor.wait_ready()
        version = 0

        def publish_version() -> None:
            nonlocal version
            version += 1
            producer.produce(
                settings.topic("model-versions"),
                CODEC.encode(version_record(version, signer)),
                b"queen",
            )
            rss.append(rss_mb(service.pid))

        sent = offer(
            producer, settings.topic("observations"), seconds, rate, every, publish_version
        )
        reader = TopicReader(settings, settings.topic("decisions"), 4)
        messages = reader.until(sent, timeout=120)
        reader.close()
        floor_ms = floor.latencies()
    decisions = [CODEC.decode(m.value(), Decision) for m in messages]
    paced = sorted(  # in the order offered: not the warm-up observation
        (d for d in decisions if d.seq >= 1_000), key=lambda d: d.observation_emitted_at
    )
    latency = [(d.decided_at - d.observation_emitted_at) / 1000 for d in paced]
    first_served: dict[int, int] = {}
    for d in sorted(paced, key=lambda d: d.decided_at):
        first_served.setdefault(d.model_version, d.decided_at)
    hot = [
        (first_served[v] - created_at) / 1000
        for v, created_at in _versions(settings).items()
        if v in first_served
    ]
    return LiveResult(sent / seconds, len(decisions), latency, hot, rss, floor_ms)


def offer(
    producer: Any,
    topic: str,
    seconds: float,
    rate: float,
    every: float = 1.0,
    periodic: Callable[[], None] = lambda: None,
) -> int:
    """Offer `rate` observations/s to `topic` for `seconds`; return how many were sent.

    Observations get seq from 1,000 and emitted_at stamped; `periodic` runs every `every` s.
    """
    sent, start = 0, time.perf_counter()
    next_call = start
    while (now := time.perf_counter()) - start < seconds:
        while sent < int((now - start) * rate):
            obs = dataclasses.replace(
                observation(sent % 64, 1_000 + sent // 64), emitted_at=time.time_ns() // 1000
            )
            producer.produce(topic, CODEC.encode(obs), obs.territory_id.encode())
            sent += 1
        producer.poll(0)
        if now >= next_call:
            periodic()
            next_call = now + every
        time.sleep(0.001)  # pacing: the producer's own clock, not a synchronisation
    producer.flush(30)
    return sent


class _Floor:
    """A bare consumer process (bench.floor) reading the observations inference reads.

    Same producer, broker, topic and moment as inference's input, without the service: what
    is left of inference's latency above this is inference's own.
    """

    def __init__(self, settings: KafkaSettings, expected: int, work: Path) -> None:
        self.out = work / "floor.json"
        topic, bootstrap = settings.topic("observations"), settings.bootstrap_servers
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", bootstrap, topic, str(expected), str(self.out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> _Floor:
        return self

    def wait_ready(self) -> None:
        """Until it has read the warm-up observation (it answers "ready", or the run fails)."""
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the latency floor's consumer did not start")

    def latencies(self) -> list[float]:
        """Milliseconds from emitted_at to arrival, once it has stopped reading."""
        self.process.wait(150)
        return list(json.loads(self.out.read_text())) if self.out.exists() else []

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _versions(settings: KafkaSettings) -> dict[int, int]:
    reader = TopicReader(settings, settings.topic("model-versions"), 1)
    found = {}
    for m in reader.poll() + reader.poll():
        v = CODEC.decode(m.value(), ModelVersion)
        found[v.version] = v.created_at
    reader.close()
    return found


def _wait_ready(port: int, producer: Any, settings: KafkaSettings) -> None:
    """Until inference has joined its group and decided one warm-up observation."""
    deadline = time.monotonic() + 90
    producer.produce(settings.topic("observations"), CODEC.encode(observation(0, 0)), b"t-0000")
    producer.flush(10)
    while time.monotonic() < deadline:
        done = scrape(port).get(
            (
                "queen_records_consumed_total",
                (("service", "inference"), ("topic", settings.topic("observations"))),
            ),
            0,
        )
        if done:
            return
        time.sleep(0.2)
    raise TimeoutError("inference did not start")


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 and p99 (None when there is nothing to measure)."""
    if not values:
        return {"p50": None, "p99": None}
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99))}
