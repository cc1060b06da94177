"""The trainer's metrics (queen_trainer_*): every field of the seed's TrainingMetrics, and more."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from runtime.metrics import SECONDS_BUCKETS


@dataclass(frozen=True)
class TrainerMetrics:
    """Seed §6 TrainingMetrics as Prometheus metrics, plus gate agreement and self-healing."""

    training_steps: Counter
    batches_trained: Counter
    pending_experiences: Gauge
    batch_size: Histogram
    loss: Gauge
    buffer_size: Gauge
    experiences_with_rewards: Gauge
    current_model_version: Gauge
    step_seconds: Histogram
    utilization: Gauge
    gate_agreement: Gauge
    experiences_taken: Counter
    duplicates: Counter
    versions_published: Counter
    rollbacks: Counter
    overruns: Counter
    version_age_seconds: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> TrainerMetrics:
        """Register on `registry`."""
        p = "queen_trainer"

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(f"{p}_{name}", doc, registry=registry)

        def counter(name: str, doc: str) -> Counter:
            return Counter(f"{p}_{name}", doc, registry=registry)

        return cls(
            training_steps=counter("training_steps", "Training steps completed"),
            batches_trained=counter("batches_trained", "Batches trained (one per completed step)"),
            pending_experiences=gauge(
                "pending_experiences",
                "Buffer rows still waiting for a reward (0 here: the joiner holds pending ones)",
            ),
            batch_size=Histogram(
                f"{p}_batch_size",
                "Experiences per training step",
                buckets=(1, 8, 16, 32, 64, 128, 256, 512),
                registry=registry,
            ),
            loss=gauge("loss", "Loss of the last training step"),
            buffer_size=gauge("buffer_size", "Experiences in the replay buffer"),
            experiences_with_rewards=gauge(
                "experiences_with_rewards", "Completed experiences in the buffer"
            ),
            current_model_version=gauge("current_model_version", "Last version published"),
            step_seconds=Histogram(
                f"{p}_step_seconds",
                "Seconds per training step (sample, re-validate, train)",
                buckets=SECONDS_BUCKETS,
                registry=registry,
            ),
            utilization=gauge("utilization_ratio", "Share of the interval the last step took"),
            gate_agreement=gauge(
                "gate_agreement_ratio",
                "Share of the last batch whose logged gate verdict the current gate repeats "
                "(the drift signal; smooth it with avg_over_time)",
            ),
            experiences_taken=counter("experiences_taken", "Experiences taken into the buffer"),
            duplicates=counter(
                "duplicate_experiences", "Experiences ignored: decision_id already taken"
            ),
            versions_published=counter("versions_published", "Model versions published"),
            rollbacks=counter("rollbacks", "Steps rolled back (non-finite loss or weights)"),
            overruns=counter("overruns", "Steps that took longer than the interval"),
            version_age_seconds=gauge(
                "version_age_seconds", "Seconds since the last version was published"
            ),
        )

    def step(
        self,
        elapsed: float,
        interval: float,
        loss: float,
        batch_size: int,
        agreement: float,
        version: int,
    ) -> None:
        """Account for one published training step."""
        self.training_steps.inc()
        self.batches_trained.inc()
        self.batch_size.observe(batch_size)
        self.loss.set(loss)
        self.step_seconds.observe(elapsed)
        self.current_model_version.set(version)
        self.versions_published.inc()
        self.gate_agreement.set(agreement)
        self.utilization.set(min(1.0, elapsed / interval) if interval > 0 else 1.0)
        if elapsed > interval > 0:
            self.overruns.inc()
