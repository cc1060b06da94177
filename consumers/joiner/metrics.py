"""The joiner's metrics (queen_joiner_*), on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge

from consumers.joiner.pending import JoinStats, PendingJoin
from runtime.metrics import BulkHistogram
from schemas.records import Experience

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


@dataclass
class JoinerMetrics:
    """Experiences by source, pending gauges, and the join's counters."""

    experiences: Counter
    pending_decisions: Gauge
    pending_rewards: Gauge
    events: Counter
    join_latency_seconds: BulkHistogram
    _last: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> JoinerMetrics:
        """Register on `registry`."""
        p = "queen_joiner"
        metrics = cls(
            experiences=Counter(
                f"{p}_experiences",
                "Experiences produced, by reward source",
                ["source"],
                registry=registry,
            ),
            pending_decisions=Gauge(
                f"{p}_pending_decisions", "Decisions waiting for their reward", registry=registry
            ),
            pending_rewards=Gauge(
                f"{p}_pending_rewards", "Rewards waiting for their decision", registry=registry
            ),
            events=Counter(
                f"{p}_events",
                "Join outcomes: matched, defaulted, dropped_decisions, orphan_rewards, "
                "late_rewards, duplicates",
                ["outcome"],
                registry=registry,
            ),
            join_latency_seconds=BulkHistogram(
                f"{p}_join_latency_seconds",
                "Wall time from decision made to experience joined",
                LATENCY_BUCKETS,
                registry,
            ),
        )
        for source in ("MATCHED", "DEFAULT"):
            metrics.experiences.labels(source=source)
        for outcome in vars(JoinStats()):
            if not outcome.startswith("_"):
                metrics.events.labels(outcome=outcome)
        return metrics

    def observe(self, pending: PendingJoin, experiences: list[Experience], _now: Any) -> None:
        """Update from the join state after a batch or tick (one call per batch, not per record)."""
        sources: dict[str, int] = {}
        for e in experiences:
            sources[e.reward_source.value] = sources.get(e.reward_source.value, 0) + 1
        for source, count in sources.items():
            self.experiences.labels(source=source).inc(count)
        latencies = np.fromiter((e.join_latency_ms for e in experiences), float, len(experiences))
        self.join_latency_seconds.observe_many(latencies / 1000)
        self.pending_decisions.set(pending.pending_decisions)
        self.pending_rewards.set(pending.pending_rewards)
        stats: JoinStats = pending.stats
        for name, value in vars(stats).items():
            delta = value - self._last.get(name, 0)
            if delta:
                self.events.labels(outcome=name).inc(delta)
                self._last[name] = value
