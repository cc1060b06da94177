"""Thin factories for confluent-kafka clients: every default in one place.

Services never build a client by hand: they call these with their settings, so security and
other librdkafka settings passed through the environment (KAFKA_*) reach every client.
Fatal client errors are raised as KafkaFatalError on the service thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from runtime.errors import KafkaFatalError, SettingsError
from runtime.logs import LIBRDKAFKA_LOGGER, RateLimit
from runtime.settings import KafkaSettings

logger = logging.getLogger(__name__)
librdkafka_logger = logging.getLogger(LIBRDKAFKA_LOGGER)  # throttled (runtime.logs.Throttle)
_client_errors = RateLimit(10.0)

COMMON: dict[str, Any] = {
    # Resolve "localhost" to IPv4 only: the embedded broker listens on 127.0.0.1.
    "broker.address.family": "v4",
    # Never create a topic by naming it: a cluster that lost its topics must say so (the
    # services' cluster watch then restarts them), not hand out fresh empty ones with the
    # broker's default layout (a 4-partition, uncompacted model topic).
    "allow.auto.create.topics": False,
}

CONSUMER: dict[str, Any] = {
    # Offsets are committed by the service loop after the produced output is flushed.
    "enable.auto.commit": False,
    # The loop stores an offset only once the record is handled (at-least-once).
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    # Group timings that rebalance in seconds on Tansu too (see TANSU.md); fine on Kafka.
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 1000,
    "max.poll.interval.ms": 30000,
    # Read only committed transactional output (the joiner writes in transactions).
    "isolation.level": "read_committed",
    # Tansu answers a fetch only when this wait expires, even when data has arrived (measured:
    # 500 ms -> 252 ms p50 per message, 10 ms -> 6.6 ms); Kafka answers as soon as data is there,
    # so there this costs only idle fetch requests. Override with KAFKA_FETCH_WAIT_MAX_MS.
    "fetch.wait.max.ms": 10,
    # Model versions are a few hundred KB; room for larger models.
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
}

PRODUCER: dict[str, Any] = {
    # No duplicates or reordering on retry; implies acks=all.
    "enable.idempotence": True,
    "acks": "all",
    # Small batching delay: latency stays in milliseconds, throughput gains a lot.
    "linger.ms": 2,
    "compression.type": "lz4",
    # Model versions travel as one message.
    "message.max.bytes": 16 * 1024 * 1024,
    # Delivery callbacks only for failures (the loop counts and raises those): one Python call
    # per produced record saved on the hot path.
    "delivery.report.only.error": True,
}


def _raise_fatal(err: KafkaError) -> None:
    if err.fatal():
        raise KafkaFatalError(f"fatal Kafka error: {err.str()}", err.code())
    held = _client_errors.allow(str(err.code()))
    if held is not None:
        suffix = f" ({held} more like it held back)" if held else ""
        logger.warning("Kafka client error: %s%s", err.str(), suffix)


def _config(
    settings: KafkaSettings, defaults: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    config = {**COMMON, **defaults, "bootstrap.servers": settings.bootstrap_servers}
    config.update(settings.extra)
    config.update(overrides)
    config.setdefault("error_cb", _raise_fatal)
    config.setdefault("logger", librdkafka_logger)
    return config


def _build(kind: type, config: dict[str, Any]) -> Any:
    """Build a client; a configuration librdkafka refuses raises SettingsError naming it."""
    try:
        return kind(config)
    except KafkaException as exc:
        shown = ", ".join(sorted(k for k in config if k not in ("error_cb", "logger")))
        msg = f"Kafka client settings refused ({exc.args[0].str()}); settings given: {shown}"
        raise SettingsError(msg) from None


def make_consumer(settings: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    """Return a consumer in `group_id` with the loop's defaults (manual offsets)."""
    return _build(Consumer, _config(settings, {**CONSUMER, "group.id": group_id}, overrides))


def make_reader(settings: KafkaSettings, **overrides: Any) -> Consumer:
    """Return a consumer for assign()-only reading: no group membership, no commits."""
    group = {"group.id": "queenloop-unused", "enable.auto.commit": False}
    return _build(Consumer, _config(settings, {**CONSUMER, **group}, overrides))


def make_producer(settings: KafkaSettings, **overrides: Any) -> Producer:
    """Return an idempotent producer."""
    return _build(Producer, _config(settings, PRODUCER, overrides))


def make_transactional_producer(
    settings: KafkaSettings, transactional_id: str, timeout: float = 30.0, **overrides: Any
) -> Producer:
    """Return a producer with `transactional_id`, its transactions initialized."""
    config = _config(settings, {**PRODUCER, "transactional.id": transactional_id}, overrides)
    producer = _build(Producer, config)
    try:
        producer.init_transactions(timeout)
    except KafkaException as exc:
        raise KafkaFatalError(f"init_transactions failed: {exc.args[0].str()}") from exc
    return producer


def make_admin(settings: KafkaSettings, **overrides: Any) -> AdminClient:
    """Return an admin client (its librdkafka logs go through our throttled logger)."""
    config = {**COMMON, "bootstrap.servers": settings.bootstrap_servers}
    config.update(settings.extra)
    config.update(overrides)
    config.setdefault("logger", librdkafka_logger)
    config.setdefault("error_cb", _raise_fatal)
    return _build(AdminClient, config)
