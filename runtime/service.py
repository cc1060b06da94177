"""What every service's `main` builds the same way, in one place.

`ServiceContext.create(name, argv, parser, flags, topics)` reads settings (env overlaid with CLI
flags), configures logging, checks within seconds that the cluster answers and holds the
service's topics (one clear line naming KAFKA_BOOTSTRAP_SERVERS if not), starts the cluster
watch, creates the metrics registry and serves it, builds the codec, the producer and the
dead-letter publisher, and installs the signal handlers. `loop(...)` wires a ServiceLoop over
it. `run_service(main)` turns the errors a start can end in into one log line and an exit code.
Services keep only what is theirs in their `__main__.py`.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from runtime.cluster import ClusterWatch, StartupError
from runtime.dead_letter import DeadLetterPublisher
from runtime.errors import KafkaFatalError, SettingsError
from runtime.handler import Handler
from runtime.health import Heartbeat
from runtime.kafka import make_admin, make_consumer, make_producer, make_reader
from runtime.logs import configure_logging
from runtime.loop import LoopConfig, ServiceLoop, install_signal_handlers
from runtime.metrics import LoopMetrics, serve_metrics
from runtime.settings import (
    CodecSettings,
    KafkaSettings,
    ServiceSettings,
    env_with_args,
    limits_from_env,
    warn_unknown_variables,
)
from runtime.topics import DEAD_LETTERS
from schemas.codec import AvroSingleObjectCodec, Codec
from schemas.enums import ErrorKind
from schemas.limits import Limits

logger = logging.getLogger(__name__)

EXIT_SETTINGS = 2  # a bad setting, or a cluster that does not answer / lacks a topic at start
EXIT_KAFKA_FATAL = 5  # a fatal client error (e.g. a producer fenced, a flush that never ends)

COMMON_FLAGS = {
    "metrics_port": "QUEEN_METRICS_PORT",
    "bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
}


def service_parser(
    module: str, description: str, flags: Mapping[str, str], settings_modules: Sequence[str]
) -> argparse.ArgumentParser:
    """A parser for `python -m <module>`: every flag with its variable, default and meaning.

    `flags` maps an argparse destination to the variable it overrides; the help of each comes
    from the settings classes of `settings_modules` (runtime/reference.py), as in
    docs/configuration.md.
    """
    from runtime.reference import help_line, settings

    helps = {
        s.variable: help_line(s)
        for s in settings(("runtime.settings", *settings_modules), with_flags=False)
    }
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        epilog="Every other setting is an environment variable: see docs/configuration.md.",
    )
    for dest, variable in {**COMMON_FLAGS, **flags}.items():
        parser.add_argument(
            f"--{dest.replace('_', '-')}", dest=dest, help=helps.get(variable, variable)
        )
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


def make_codec(settings: CodecSettings, limits: Limits) -> Codec:
    """The single-object codec, or the Confluent wire format when a registry is configured."""
    if not settings.schema_registry_url:
        return AvroSingleObjectCodec.default(limits)
    from runtime.registry_codec import ConfluentWireCodec

    extra = {}
    if settings.schema_registry_basic_auth:
        extra["basic.auth.user.info"] = settings.schema_registry_basic_auth
    client = ConfluentWireCodec.connect(settings.schema_registry_url, extra)
    logger.info("Confluent wire format through %s", settings.schema_registry_url)
    return ConfluentWireCodec(client, limits, settings.schema_registry_auto_register)


def run_service(main: Callable[[], int]) -> int:
    """Run a service's main; a failed start or a fatal client error is one line and a code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return main()
    except (SettingsError, StartupError) as exc:
        logger.error("cannot start: %s", exc)
        return EXIT_SETTINGS
    except KafkaFatalError as exc:
        logger.error("stopping on a fatal Kafka error: %s", exc)
        return EXIT_KAFKA_FATAL


@dataclass
class ServiceContext:
    """A service's settings, metrics, codec, producer, dead letters, watch and stop flag."""

    name: str
    environ: Mapping[str, str]
    kafka: KafkaSettings
    service: ServiceSettings
    registry: CollectorRegistry
    loop_metrics: LoopMetrics
    codec: Codec
    producer: Any
    dead_letters: DeadLetterPublisher
    stop: threading.Event
    metrics_port: int | None
    cluster: ClusterWatch
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Name and settings only: the environment may hold secrets, and is never shown."""
        return f"ServiceContext(name={self.name!r}, kafka={self.kafka!r})"

    @classmethod
    def create(
        cls,
        name: str,
        argv: Sequence[str] | None,
        parser: argparse.ArgumentParser,
        flags: Mapping[str, str],
        topics: Sequence[str],
        producer_overrides: Mapping[str, Any] | None = None,
    ) -> ServiceContext:
        """Read settings and build the shared parts.

        `topics` are the short names (e.g. "observations") of the topics the service uses;
        they must exist. Raises SettingsError for a bad setting, StartupError when the cluster
        does not answer within seconds or a topic is missing.
        """
        environ = env_with_args(os.environ, argv, parser, {**COMMON_FLAGS, **flags})
        service = ServiceSettings.from_env(environ)
        configure_logging(name, service.log_level, service.log_format)
        kafka = KafkaSettings.from_env(environ)
        limits = limits_from_env(environ)
        warn_unknown_variables(environ)
        cluster = ClusterWatch(
            make_admin(kafka),
            [kafka.topic(t) for t in topics],
            kafka.bootstrap_servers,
            service.watch_interval_s,
            service.unreachable_exit_s,
        )
        cluster.snapshot()
        cluster.start()
        tune_gc()
        registry = CollectorRegistry()
        loop_metrics = LoopMetrics.create(registry, name)
        loop_metrics.initialize(kind.value for kind in ErrorKind)
        port = None
        if service.metrics_port >= 0:
            _server, port = serve_metrics(registry, service.metrics_port)
            logger.info("metrics on :%d/metrics", port)
        codec = make_codec(CodecSettings.from_env(environ), limits)
        producer = make_producer(kafka, **(producer_overrides or {}))
        dead = DeadLetterPublisher(
            producer, kafka.topic(DEAD_LETTERS), name, codec, loop_metrics.dead_letters
        )
        stop = threading.Event()
        install_signal_handlers(stop, service.shutdown_grace_s)
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
            cluster,
        )

    def loop(
        self,
        group_id: str | None,
        record_types: Mapping[str, type],
        handler: Handler,
        config: LoopConfig | None = None,
    ) -> ServiceLoop:
        """Return a ServiceLoop over `record_types`' topics, in `group_id` (None: from the end)."""
        config = config or LoopConfig()
        if group_id is None:
            config = LoopConfig(**{**config.__dict__, "group": False})
            consumer = make_reader(self.kafka)
        else:
            consumer = make_consumer(
                self.kafka,
                group_id,
                **{"statistics.interval.ms": 5000, "stats_cb": self.loop_metrics.record_stats},
            )
        loop = ServiceLoop(
            consumer,
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
