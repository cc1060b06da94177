"""The promoter's metrics (queen_promoter_*), on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from runtime.promotions import REASONS

ROLES = ("served", "candidate", "previous")


@dataclass(frozen=True)
class PromoterMetrics:
    """What the promoter exports beyond the loop's metrics."""

    estimate: Gauge
    realized: Gauge
    agreement: Gauge
    effective_samples: Gauge
    version: Gauge
    candidate_age: Gauge
    promotions: Counter
    promotions_rejected: Counter
    versions_rejected: Counter
    window: Gauge
    shadow_rows: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PromoterMetrics:
        """Register on `registry`."""
        p = "queen_promoter"
        metrics = cls(
            estimate=Gauge(
                f"{p}_estimate_reward",
                "Off-policy estimate of the mean reward per decision, by role (served, "
                "candidate, previous) and bound (value, lower, upper)",
                ["role", "bound"],
                registry=registry,
            ),
            realized=Gauge(
                f"{p}_realized_reward",
                "Mean realized reward per decision on the window, of the served version's own "
                "decisions (role served) and of those served before it (role previous), by "
                "bound (value, lower, upper): the rollback's evidence",
                ["role", "bound"],
                registry=registry,
            ),
            agreement=Gauge(
                f"{p}_gate_agreement_ratio",
                "Share of decisions whose action the gate agreed to send, on the window, of "
                "the served version's own decisions (role served) and of those before them "
                "(role previous), by bound: the rollback's other evidence",
                ["role", "bound"],
                registry=registry,
            ),
            effective_samples=Gauge(
                f"{p}_effective_samples",
                "Effective sample size behind each role's estimate (the lower of the drawn and "
                "the expected one)",
                ["role"],
                registry=registry,
            ),
            version=Gauge(
                f"{p}_model_version", "Version scored in each role", ["role"], registry=registry
            ),
            candidate_age=Gauge(
                f"{p}_candidate_age_seconds",
                "Seconds since the candidate scored last was created",
                registry=registry,
            ),
            promotions=Counter(
                f"{p}_promotions",
                "Promotions emitted, by kind (PROMOTE, ROLLBACK)",
                ["kind"],
                registry=registry,
            ),
            promotions_rejected=Counter(
                f"{p}_promotions_rejected",
                "Promotions read back and refused, by reason",
                ["reason"],
                registry=registry,
            ),
            versions_rejected=Counter(
                f"{p}_model_versions_rejected",
                "Model versions refused, by reason",
                ["reason"],
                registry=registry,
            ),
            window=Gauge(f"{p}_window_experiences", "Experiences scored on", registry=registry),
            shadow_rows=Counter(
                f"{p}_shadow_rows",
                "Rows scored where inference logged a shadow of the candidate: whether its "
                "probabilities agree with the promoter's own (outcome agree, mismatch)",
                ["outcome"],
                registry=registry,
            ),
        )
        for kind in ("PROMOTE", "ROLLBACK"):
            metrics.promotions.labels(kind=kind)
        for reason in REASONS:
            metrics.promotions_rejected.labels(reason=reason)
        for outcome in ("agree", "mismatch"):
            metrics.shadow_rows.labels(outcome=outcome)
        return metrics
