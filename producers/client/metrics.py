"""The client's metrics (queen_client_*), on the registry the game server passes (or its own)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from producers.client.core import Verdict

FALLBACK_REASONS = ("deadline", "publish_failed", "closed")
ROUND_TRIP_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class ClientMetrics:
    """Decisions read by verdict, fallbacks by reason, round trips, records published."""

    decisions: Counter
    served: Counter
    fallbacks: Counter
    round_trip: Histogram
    published: Counter
    publish_errors: Counter
    kafka_errors: Counter
    undecodable: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ClientMetrics:
        """Register on `registry`."""
        p = "queen_client"
        metrics = cls(
            decisions=Counter(
                f"{p}_decisions",
                "Decisions read for this game's territories, by verdict: accepted, duplicate, "
                "late, unknown",
                ["verdict"],
                registry=registry,
            ),
            served=Counter(
                f"{p}_served", "Observations answered by a decision of the loop", registry=registry
            ),
            fallbacks=Counter(
                f"{p}_fallbacks",
                "Observations answered by the fallback, by reason: deadline (no decision in "
                "time), publish_failed (the observation could not be queued), closed",
                ["reason"],
                registry=registry,
            ),
            round_trip=Histogram(
                f"{p}_round_trip_seconds",
                "Observation published to its decision read, for decisions served",
                buckets=ROUND_TRIP_BUCKETS,
                registry=registry,
            ),
            published=Counter(
                f"{p}_published", "Records published, by topic", ["topic"], registry=registry
            ),
            publish_errors=Counter(
                f"{p}_publish_errors",
                "Records the producer could not queue or deliver",
                registry=registry,
            ),
            kafka_errors=Counter(
                f"{p}_kafka_errors",
                "Errors reported by the Kafka clients (librdkafka retries and reconnects)",
                registry=registry,
            ),
            undecodable=Counter(
                f"{p}_undecodable_decisions",
                "Records on the decisions topic that did not decode as a valid Decision",
                registry=registry,
            ),
        )
        for verdict in Verdict:
            metrics.decisions.labels(verdict=verdict.value)
        for reason in FALLBACK_REASONS:
            metrics.fallbacks.labels(reason=reason)
        return metrics
