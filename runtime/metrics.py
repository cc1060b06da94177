"""Prometheus metrics: one object per service on an injected registry, and the /metrics server.

Names are queen_<service>_<what>_<unit>. Nothing here touches the default registry, so tests
create as many services as they like, each on a fresh CollectorRegistry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """Observe each of `values` (finite), with the result `histogram.observe` gives one by one.

    One numpy pass and one increment per bucket, instead of a Python call per value: inference
    observes a latency for every decision. It updates the histogram's buckets and sum as
    Histogram.observe does (prometheus_client is pinned; a unit test holds the two equal).
    """
    if len(values) == 0:
        return
    bounds = np.asarray(histogram._upper_bounds)  # the last bound is +Inf
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    histogram._sum.inc(float(np.sum(values)))
    for bucket, count in zip(histogram._buckets, counts[: len(bounds)].tolist(), strict=True):
        if count:
            bucket.inc(count)


def serve_metrics(registry: CollectorRegistry, port: int) -> tuple[Any, int]:
    """Serve `registry` on /metrics at `port` (0: a free port); return (server, port)."""
    server, _thread = start_http_server(port, addr="0.0.0.0", registry=registry)
    return server, int(server.server_address[1])


@dataclass(frozen=True)
class LoopMetrics:
    """What every service loop counts."""

    consumed: Counter
    produced: Counter
    dead_letters: Counter
    batch_size: Histogram
    handle_seconds: Histogram
    commits: Counter
    heartbeat: Gauge
    delivery_errors: Counter
    consumer_lag: Gauge
    rejections: Counter
    handler_errors: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry, service: str) -> LoopMetrics:
        """Register the loop's metrics for `service` on `registry`."""
        p = f"queen_{service}"
        return cls(
            consumed=Counter(
                f"{p}_records_consumed", "Records read, by topic", ["topic"], registry=registry
            ),
            produced=Counter(
                f"{p}_records_produced", "Records written, by topic", ["topic"], registry=registry
            ),
            dead_letters=Counter(
                f"{p}_dead_letters",
                "Records sent to the dead-letter topic, by error kind",
                ["kind"],
                registry=registry,
            ),
            batch_size=Histogram(
                f"{p}_poll_batch_size",
                "Records per polled batch",
                buckets=BATCH_BUCKETS,
                registry=registry,
            ),
            handle_seconds=Histogram(
                f"{p}_handle_seconds",
                "Seconds to decode, handle and produce one batch",
                buckets=SECONDS_BUCKETS,
                registry=registry,
            ),
            commits=Counter(f"{p}_commits", "Offset commits", registry=registry),
            heartbeat=Gauge(
                f"{p}_heartbeat_timestamp_seconds",
                "Unix time of the loop's last heartbeat",
                registry=registry,
            ),
            delivery_errors=Counter(
                f"{p}_delivery_errors", "Records the broker did not accept", registry=registry
            ),
            consumer_lag=Gauge(
                f"{p}_consumer_lag",
                "Records behind the end of each assigned partition (librdkafka statistics)",
                ["topic", "partition"],
                registry=registry,
            ),
            rejections=Counter(
                f"{p}_records_rejected",
                "Input records refused, by reason (each also a dead letter)",
                ["reason"],
                registry=registry,
            ),
            handler_errors=Counter(
                f"{p}_handler_errors",
                "Records (or ticks) on which the handler raised; each record is dead-lettered",
                registry=registry,
            ),
        )

    def initialize(self, kinds: Iterable[str]) -> None:
        """Create the labelled series up front, so dashboards see zeros rather than nothing."""
        for kind in kinds:
            self.dead_letters.labels(kind=kind)

    def record_stats(self, stats_json: str) -> None:
        """Set consumer lag from a librdkafka statistics JSON document (a stats_cb)."""
        stats = json.loads(stats_json)
        for topic, t in stats.get("topics", {}).items():
            for partition, p in t.get("partitions", {}).items():
                lag = p.get("consumer_lag", -1)
                if partition != "-1" and lag >= 0:
                    self.consumer_lag.labels(topic=topic, partition=partition).set(lag)
