"""Runs the real services as processes against the session's broker, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from runtime.broker import free_port
from runtime.kafka import make_admin
from runtime.topics import ensure_topics, topic_specs
from runtime.view import Samples, scrape
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Decision, Observation
from tests.integration.kafka_helpers import TopicReader
from tests.keys import key_files, promoter_key_files

MODULES = {
    "game": "producers.game",
    "inference": "consumers.inference",
    "inference-2": "consumers.inference",
    "joiner": "consumers.joiner",
    "trainer": "trainer",
    "promoter": "consumers.promoter",
}
CODEC = AvroSingleObjectCodec.default()


# The promoter decides on a smaller window, twice a second: the loops here are short.
PROMOTER = {
    "QUEEN_PROMOTER_MIN_SAMPLES": "100",
    "QUEEN_PROMOTER_WINDOW": "1000",
    "QUEEN_PROMOTER_EVALUATE_INTERVAL_S": "0.5",
}


@dataclass
class LoopHarness:
    """The loop's processes for one test: own topics, groups, ports and logs."""

    bootstrap: str
    workdir: Path
    territories: int = 32
    partitions: int = 4
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settings = _settings(self.bootstrap, f"e2e-{self.token}.", self.partitions)
        ensure_topics(make_admin(self.settings), topic_specs(self.settings))
        self.taken_log = self.workdir / "taken.log"
        self.keys = key_files(self.workdir / "keys")
        self.promoter_keys = promoter_key_files(self.workdir / "promoter-keys")

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    def env(self, name: str) -> dict[str, str]:
        port = self.ports.setdefault(name, free_port())
        return dict(
            os.environ,
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            QUEEN_TOPIC_PREFIX=self.settings.topic_prefix,
            QUEEN_PARTITIONS=str(self.partitions),
            QUEEN_TERRITORIES=str(self.territories),
            QUEEN_METRICS_PORT=str(port),
            QUEEN_INFERENCE_GROUP=f"inference-{self.token}",
            QUEEN_JOINER_GROUP=f"joiner-{self.token}",
            QUEEN_JOINER_TRANSACTIONAL_ID=f"joiner-{self.token}",
            QUEEN_TRAINER_GROUP=f"trainer-{self.token}",
            QUEEN_PROMOTER_GROUP=f"promoter-{self.token}",
            QUEEN_TRAINER_TAKEN_LOG=str(self.taken_log),
            QUEEN_TRAINER_CHECKPOINT_DIR=str(self.workdir / "checkpoints"),
            QUEEN_INFERENCE_POLICY_SEED=str(len(self.processes)),
            QUEEN_JOINER_IDLE_TIMEOUT_S="5",
            QUEEN_SHUTDOWN_GRACE_S="20",
            **self.keys,
            **self.promoter_keys,
            **(PROMOTER if name == "promoter" else {}),
        )

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", MODULES[name], *args],
            env={**self.env(name), **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def metrics(self, name: str) -> Samples:
        return scrape(self.ports[name])

    def metric(self, name: str, sample: str, **labels: str) -> float | None:
        return self.metrics(name).get((sample, tuple(sorted(labels.items()))))

    def stop_all(self) -> dict[str, int]:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.processes.clear()
        return codes

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def reader(self, name: str) -> TopicReader:
        single = ("model-versions", "rules", "dead-letters", "promotions")
        partitions = 1 if name in single else self.partitions
        return TopicReader(self.settings, self.topic(name), partitions)

    def taken(self, published: set[tuple[int, int]] | None = None) -> list[str]:
        """decision_ids the trainer took into versions; with `published`, into those only.

        The log's lines are "version created_at decision_id"; a version that never reached
        the topic (the trainer was killed while producing it) trained nothing that counts.
        """
        if not self.taken_log.exists():
            return []
        rows = [line.split() for line in self.taken_log.read_text().splitlines() if line]
        return [d for v, c, d in rows if published is None or (int(v), int(c)) in published]


def decisions_of(reader: TopicReader) -> list[Decision]:
    return [CODEC.decode(m.value(), Decision) for m in reader.poll()]


def observations_of(reader: TopicReader) -> list[Observation]:
    out = []
    for m in reader.poll():
        try:
            out.append(CODEC.decode(m.value(), Observation))
        except Exception:  # injected bad records
            continue
    return out


def _settings(bootstrap: str, prefix: str, partitions: int):  # noqa: ANN202
    from runtime.settings import KafkaSettings

    return KafkaSettings(bootstrap, prefix, partitions)
