"""Inference's metrics (queen_inference_*), on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runtime.metrics import SECONDS_BUCKETS, BulkHistogram
from runtime.model_versions import REASONS
from runtime.promotions import REASONS as PROMOTION_REASONS

# Seconds from a reward to serving what was learnt from it: about one training interval or more.
FRESHNESS_BUCKETS = (0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class InferenceMetrics:
    """What inference counts beyond the loop's metrics."""

    decisions: Counter
    inference_seconds: Histogram
    decision_latency_seconds: BulkHistogram
    served_version: Gauge
    versions_loaded: Counter
    versions_rejected: Counter
    hot_load_seconds: Histogram
    reward_to_serving_seconds: BulkHistogram
    unknown_rules: Counter
    waiting_for_rules: Gauge
    rules_to_decision_seconds: Histogram
    candidate_version: Gauge
    promotions_applied: Counter
    promotions_rejected: Counter
    shadow_version: Gauge
    shadow_agreement: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> InferenceMetrics:
        """Register on `registry`."""
        p = "queen_inference"
        metrics = cls(
            decisions=Counter(
                f"{p}_decisions",
                "Decisions produced, by gate verdict",
                ["gate"],
                registry=registry,
            ),
            inference_seconds=Histogram(
                f"{p}_batch_inference_seconds",
                "Seconds for features, QueenNN and the gate on one batch",
                buckets=SECONDS_BUCKETS,
                registry=registry,
            ),
            decision_latency_seconds=BulkHistogram(
                f"{p}_decision_latency_seconds",
                "Wall time from observation produced to decision made",
                SECONDS_BUCKETS,
                registry,
            ),
            served_version=Gauge(
                f"{p}_served_model_version", "Model version in use", registry=registry
            ),
            versions_loaded=Counter(
                f"{p}_model_versions_loaded", "Model versions swapped in", registry=registry
            ),
            versions_rejected=Counter(
                f"{p}_model_versions_rejected",
                "Model versions refused, by reason",
                ["reason"],
                registry=registry,
            ),
            hot_load_seconds=Histogram(
                f"{p}_hot_load_seconds",
                "Wall time from a version's creation to its swap into serving",
                buckets=SECONDS_BUCKETS,
                registry=registry,
            ),
            reward_to_serving_seconds=BulkHistogram(
                f"{p}_reward_to_serving_seconds",
                "Freshness: a reward emitted -> the first decision served by a version trained "
                "on it (each reward once, at the version whose step first used it)",
                FRESHNESS_BUCKETS,
                registry,
            ),
            unknown_rules=Counter(
                f"{p}_unknown_rules",
                "Observations that named a rules version not known on arrival, by how they "
                "were decided: learnt (the rule set came within QUEEN_RULES_WAIT_S) or policy "
                "(QUEEN_RULES_UNKNOWN_POLICY)",
                ["outcome"],
                registry=registry,
            ),
            waiting_for_rules=Gauge(
                f"{p}_observations_waiting_for_rules",
                "Observations held until their rules version is known",
                registry=registry,
            ),
            rules_to_decision_seconds=Histogram(
                f"{p}_rules_to_decision_seconds",
                "Wall time from a rule set's publication to the first decision gated under it "
                "(once per rules version and process)",
                buckets=FRESHNESS_BUCKETS,
                registry=registry,
            ),
            candidate_version=Gauge(
                f"{p}_candidate_model_version",
                "Newest loaded version not served (gated and manual modes); 0 for none",
                registry=registry,
            ),
            promotions_applied=Counter(
                f"{p}_promotions_applied",
                "Promotions (and rollbacks) applied: the version they carry served, by kind",
                ["kind"],
                registry=registry,
            ),
            promotions_rejected=Counter(
                f"{p}_promotions_rejected",
                "Promotions refused, by reason (dead-lettered, except replayed ones)",
                ["reason"],
                registry=registry,
            ),
            shadow_version=Gauge(
                f"{p}_shadow_model_version",
                "Candidate version that scored the last batch as the shadow "
                "(QUEEN_INFERENCE_SHADOW); -1 for none",
                registry=registry,
            ),
            shadow_agreement=Gauge(
                f"{p}_shadow_agreement_ratio",
                "Share of the last batch's decisions whose shadow greedy action equals the "
                "served model's greedy action; NaN when the batch had no shadow",
                registry=registry,
            ),
        )
        metrics.shadow_version.set(-1)
        metrics.shadow_agreement.set(float("nan"))
        for outcome in ("learnt", "policy"):
            metrics.unknown_rules.labels(outcome=outcome)
        for gate in ("SEND", "WAIT"):
            metrics.decisions.labels(gate=gate)
        for reason in REASONS:
            metrics.versions_rejected.labels(reason=reason)
        for kind in ("PROMOTE", "ROLLBACK"):
            metrics.promotions_applied.labels(kind=kind)
        for reason in PROMOTION_REASONS:
            metrics.promotions_rejected.labels(reason=reason)
        return metrics
