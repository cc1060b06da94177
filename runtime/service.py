"""What every service's `main` builds the same way, in one place.

`ServiceContext.create(name, argv, parser, flags)` reads settings (env overlaid with CLI flags),
configures logging, creates the metrics registry and serves it, builds the codec, the producer
and the dead-letter publisher, and installs the signal handlers. `loop(...)` wires a
ServiceLoop over it. Services keep only what is theirs in their `__main__.py`.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from runtime.dead_letter import DeadLetterPublisher
from runtime.health import Heartbeat
from runtime.kafka import make_consumer, make_producer
from runtime.logs import configure_logging
from runtime.loop import LoopConfig, ServiceLoop, install_signal_handlers
from runtime.metrics import LoopMetrics, serve_metrics
from runtime.settings import KafkaSettings, ServiceSettings, env_with_args
from runtime.topics import DEAD_LETTERS
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import ErrorKind

logger = logging.getLogger(__name__)

COMMON_FLAGS = {
    "metrics_port": "QUEEN_METRICS_PORT",
    "bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
}


def service_parser(description: str) -> argparse.ArgumentParser:
    """Return a parser with the flags every service accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--metrics-port", type=int, help="QUEEN_METRICS_PORT (0: any free port)")
    parser.add_argument("--bootstrap-servers", help="KAFKA_BOOTSTRAP_SERVERS")
    return parser


# Python's cyclic GC runs a young collection every 700 net allocations by default, and every
# 100th is a full one that scans every live object (the joiner's pending records, the trainer's
# buffer ids). A service loop allocates several objects per record, so full scans came every few
# thousand records. Measured (make bench): the joiner at 50,000 pairs moved 39k events/s at
# (700, 10, 10) and 49k at (10,000, 10, 10).
GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """Collect less often: fewer, larger young collections (see GC_THRESHOLDS)."""
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass
class ServiceContext:
    """A service's settings, metrics, codec, producer, dead letters and stop flag."""

    name: str
    environ: Mapping[str, str]
    kafka: KafkaSettings
    service: ServiceSettings
    registry: CollectorRegistry
    loop_metrics: LoopMetrics
    codec: AvroSingleObjectCodec
    producer: Any
    dead_letters: DeadLetterPublisher
    stop: threading.Event
    metrics_port: int | None

    @classmethod
    def create(
        cls,
        name: str,
        argv: Sequence[str] | None,
        parser: argparse.ArgumentParser,
        flags: Mapping[str, str],
        producer_overrides: Mapping[str, Any] | None = None,
    ) -> ServiceContext:
        """Read settings and build the shared parts; a bad setting raises SettingsError."""
        environ = env_with_args(os.environ, argv, parser, {**COMMON_FLAGS, **flags})
        kafka = KafkaSettings.from_env(environ)
        service = ServiceSettings.from_env(environ)
        configure_logging(name, service.log_level)
        tune_gc()
        registry = CollectorRegistry()
        loop_metrics = LoopMetrics.create(registry, name)
        loop_metrics.initialize(kind.value for kind in ErrorKind)
        port = None
        if service.metrics_port >= 0:
            _server, port = serve_metrics(registry, service.metrics_port)
            logger.info("metrics on :%d/metrics", port)
        codec = AvroSingleObjectCodec.default()
        producer = make_producer(kafka, **(producer_overrides or {}))
        dead = DeadLetterPublisher(
            producer, kafka.topic(DEAD_LETTERS), name, codec, loop_metrics.dead_letters
        )
        stop = threading.Event()
        install_signal_handlers(stop)
        return cls(
            name,
            environ,
            kafka,
            service,
            registry,
            loop_metrics,
            codec,
            producer,
            dead,
            stop,
            port,
        )

    def loop(
        self,
        group_id: str,
        record_types: Mapping[str, type],
        handler: Any,
        config: LoopConfig | None = None,
    ) -> ServiceLoop:
        """Return a ServiceLoop consuming `record_types`' topics in `group_id`."""
        loop = ServiceLoop(
            make_consumer(
                self.kafka,
                group_id,
                **{"statistics.interval.ms": 5000, "stats_cb": self.loop_metrics.record_stats},
            ),
            self.producer,
            self.codec,
            record_types,
            handler,
            self.dead_letters,
            self.loop_metrics,
            config,
        )
        loop.heartbeat = Heartbeat(self.service.heartbeat_file)
        return loop
