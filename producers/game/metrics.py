"""The game's metrics (queen_game_*), on an injected registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from producers.game.book import DecisionBook
from producers.game.scoreboard import TickScore


@dataclass(frozen=True)
class GameMetrics:
    """Ticks, events produced, what happened to decisions, reward and rules."""

    ticks: Counter
    observations: Counter
    rewards: Counter
    decisions: Counter
    reward_mean: Gauge
    rules_version: Gauge
    expected_reward: Gauge
    gap_share: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GameMetrics:
        """Register on `registry`."""
        p = "queen_game"
        metrics = cls(
            ticks=Counter(f"{p}_ticks", "Ticks played", registry=registry),
            observations=Counter(f"{p}_observations", "Observations produced", registry=registry),
            rewards=Counter(f"{p}_rewards", "Rewards produced", registry=registry),
            decisions=Counter(
                f"{p}_decisions",
                "Decisions by what the game did: applied, waited, missing, late, duplicate, "
                "unknown",
                ["status"],
                registry=registry,
            ),
            reward_mean=Gauge(
                f"{p}_reward_mean",
                "Mean reward per territory of the last tick (smooth it with avg_over_time)",
                registry=registry,
            ),
            rules_version=Gauge(f"{p}_rules_version", "Rules version in force", registry=registry),
            expected_reward=Gauge(
                f"{p}_expected_reward",
                "Mean exact expected reward per territory of the last tick, by policy: what the "
                "game applied (served), a random action (random), the best action (oracle); "
                "the simulator alone knows these",
                ["policy"],
                registry=registry,
            ),
            gap_share=Gauge(
                f"{p}_gap_share_ratio",
                "Share of the oracle - random gap the served decisions held in the last tick "
                "(NaN when the gap is empty)",
                registry=registry,
            ),
        )
        for status in ("applied", "waited", "missing", "late", "duplicate", "unknown"):
            metrics.decisions.labels(status=status)
        return metrics

    def tick(self, book: DecisionBook, mean_reward: float, rules_version: int) -> None:
        """Account for one played tick."""
        self.ticks.inc()
        n = len(book.observation_ids)
        self.rewards.inc(n)
        statuses = [book.status(i)[1].value for i in range(n)]
        for status in ("APPLIED", "WAITED", "MISSING"):
            self.decisions.labels(status=status.lower()).inc(statuses.count(status))
        self.decisions.labels(status="late").inc(book.late)
        self.decisions.labels(status="duplicate").inc(book.duplicates)
        self.decisions.labels(status="unknown").inc(book.unknown)
        self.reward_mean.set(mean_reward)
        self.rules_version.set(rules_version)

    def score(self, score: TickScore) -> None:
        """Record the last tick's expected rewards beside the baselines."""
        self.expected_reward.labels(policy="served").set(score.served)
        self.expected_reward.labels(policy="random").set(score.random)
        self.expected_reward.labels(policy="oracle").set(score.oracle)
        share = score.share
        self.gap_share.set(float("nan") if share is None else share)
