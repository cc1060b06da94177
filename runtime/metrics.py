"""Prometheus metrics: one object per service on an injected registry, and the /metrics server.

Naming follows Prometheus' conventions. What every service measures the same way has one name
with a `service` label (`queen_records_consumed_total{service="joiner", topic=...}`), so one
alert or panel covers every service; what only one service measures is
`queen_<service>_<what>_<unit>`. Base units (seconds), `_total` for counters, `_ratio` for
shares; rates are left to `rate()`. `queen_build_info` says what runs. Nothing here touches the
default registry, so tests create as many services as they like, each on a fresh registry.
Only prometheus_client's public API is used; `BulkHistogram` is a custom collector.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import confluent_kafka
import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from runtime.version import VERSION

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class BulkHistogram:
    """A histogram observed many values at a time (one numpy pass), exported as a collector.

    Inference observes a latency for every decision; one Python call per value cost more than
    deciding. The exposition is exactly a prometheus_client Histogram's (a test holds them equal).
    """

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        """Register `name` (no `_bucket` suffix) on `registry`."""
        self.name, self.documentation = name, documentation
        self.bounds = np.array([*buckets, math.inf])
        self.counts = np.zeros(len(self.bounds), dtype=np.int64)
        self.sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: np.ndarray) -> None:
        """Observe every one of `values` (finite)."""
        if len(values) == 0:
            return
        counts = np.bincount(
            np.searchsorted(self.bounds, values, side="left"), minlength=len(self.bounds)
        )
        with self._lock:
            self.counts += counts[: len(self.bounds)]
            self.sum += float(np.sum(values))

    def observe(self, value: float) -> None:
        """Observe one value."""
        self.observe_many(np.array([value]))

    def describe(self) -> list[Metric]:
        """The metric family, without samples (for the registry's name check)."""
        return [HistogramMetricFamily(self.name, self.documentation)]

    def collect(self) -> Iterator[Metric]:
        """The cumulative buckets, count and sum."""
        with self._lock:
            cumulative = np.cumsum(self.counts).tolist()
            total = self.sum
        family = HistogramMetricFamily(self.name, self.documentation)
        buckets = [(floatToGoString(b), c) for b, c in zip(self.bounds, cumulative, strict=True)]
        family.add_metric([], buckets=buckets, sum_value=total)
        yield family


class Bound:
    """A labelled metric with its `service` label bound: `.labels(topic=...)` adds the rest."""

    def __init__(self, metric: Any, service: str) -> None:
        """Bind `service` on `metric` (a Counter, Gauge or Histogram with a service label)."""
        self.metric, self.service = metric, service

    def labels(self, **labels: str) -> Any:
        """The child for `labels` plus the bound service."""
        return self.metric.labels(service=self.service, **labels)

    def remove(self, *values: str) -> None:
        """Drop the series of the remaining label values (e.g. a revoked partition's)."""
        with contextlib.suppress(KeyError):
            self.metric.remove(self.service, *values)

    def collect(self) -> Iterable[Metric]:
        """The underlying metric's families."""
        return self.metric.collect()


def serve_metrics(registry: CollectorRegistry, port: int) -> tuple[Any, int]:
    """Serve `registry` on /metrics at `port` (0: a free port); return (server, port)."""
    server, _thread = start_http_server(port, addr="0.0.0.0", registry=registry)
    return server, int(server.server_address[1])


def build_info(registry: CollectorRegistry, service: str) -> None:
    """queen_build_info{service, version, python, librdkafka} 1: what runs where."""

    class BuildInfo:
        def collect(self) -> Iterator[Metric]:
            family = GaugeMetricFamily(
                "queen_build_info",
                "Always 1; its labels say which service and versions run",
                labels=["service", "version", "python", "librdkafka"],
            )
            family.add_metric(
                [service, VERSION, platform.python_version(), confluent_kafka.libversion()[0]],
                1.0,
            )
            yield family

    registry.register(BuildInfo())


@dataclass(frozen=True)
class LoopMetrics:
    """What every service loop counts: one name per meaning, labelled by service."""

    service: str
    consumed: Bound
    produced: Bound
    dead_letters: Bound
    rejections: Bound
    consumer_lag: Bound
    batch_size: Any
    handle_seconds: Any
    commits: Any
    heartbeat: Any
    delivery_errors: Any
    handler_errors: Any

    @classmethod
    def create(cls, registry: CollectorRegistry, service: str) -> LoopMetrics:
        """Register the loop's metrics on `registry`, for `service`."""

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(f"queen_{name}", doc, ["service", *labels], registry=registry)

        def histogram(name: str, doc: str, buckets: Sequence[float]) -> Any:
            h = Histogram(f"queen_{name}", doc, ["service"], buckets=buckets, registry=registry)
            return h.labels(service=service)

        build_info(registry, service)
        lag = Gauge(
            "queen_consumer_lag_records",
            "Records between each assigned partition's end and the consumer's position "
            "(librdkafka statistics; a broker that reports low high watermarks, like Tansu, "
            "makes it read low)",
            ["service", "topic", "partition"],
            registry=registry,
        )
        return cls(
            service=service,
            consumed=Bound(counter("records_consumed", "Records read, by topic", "topic"), service),
            produced=Bound(
                counter("records_produced", "Records written, by topic", "topic"), service
            ),
            dead_letters=Bound(
                counter("dead_letters", "Records sent to the dead-letter topic, by kind", "kind"),
                service,
            ),
            rejections=Bound(
                counter("records_rejected", "Input records refused, by reason", "reason"), service
            ),
            consumer_lag=Bound(lag, service),
            batch_size=histogram("poll_batch_size", "Records per polled batch", BATCH_BUCKETS),
            handle_seconds=histogram(
                "handle_seconds", "Seconds to decode, handle and produce one batch", SECONDS_BUCKETS
            ),
            commits=counter("commits", "Offset commits").labels(service=service),
            heartbeat=Gauge(
                "queen_heartbeat_timestamp_seconds",
                "Unix time of the loop's last heartbeat",
                ["service"],
                registry=registry,
            ).labels(service=service),
            delivery_errors=counter("delivery_errors", "Records the broker did not accept").labels(
                service=service
            ),
            handler_errors=counter(
                "handler_errors", "Records or ticks on which the handler raised (dead-lettered)"
            ).labels(service=service),
        )

    def initialize(self, kinds: Iterable[str]) -> None:
        """Create the labelled series up front, so dashboards see zeros rather than nothing."""
        for kind in kinds:
            self.dead_letters.labels(kind=kind)

    def record_stats(self, stats_json: str) -> None:
        """Set consumer lag from a librdkafka statistics JSON document (a stats_cb).

        Lag is the high watermark minus the consumer's position (`app_offset`), not minus the
        committed offset: the joiner commits through transactions, which librdkafka's own
        `consumer_lag` does not see.
        """
        stats = json.loads(stats_json)
        for topic, t in stats.get("topics", {}).items():
            for partition, p in t.get("partitions", {}).items():
                high, position = p.get("hi_offset", -1), p.get("app_offset", -1)
                if partition != "-1" and high >= 0 and position >= 0:
                    self.consumer_lag.labels(topic=topic, partition=partition).set(
                        max(0, high - position)
                    )

    def forget_partitions(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Drop the lag series of partitions this instance no longer owns."""
        for topic, partition in partitions:
            self.consumer_lag.remove(topic, str(partition))
