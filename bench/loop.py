"""The whole loop as processes at the default training interval: freshness, utilization, RSS.

Game, inference, joiner and trainer run as in `make run` (each its own process, topics, group
and metrics port: tests/e2e/harness.LoopHarness) for `seconds`. Freshness comes from the
services' own timestamps on the topics: each ModelVersion lists the emitted_at of the rewards
its step trained on for the first time, and the first decision made with that version (or a
later one, which includes its training) closes the interval. Every service's RSS is sampled from
/proc while it runs; the trainer's utilization and step time come from its /metrics.
"""

from __future__ import annotations

import bisect
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.live import rss_mb
from runtime.kafka import make_reader
from runtime.settings import KafkaSettings
from runtime.tail import assign_from_beginning, read_until_idle
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Decision, ModelVersion
from tests.e2e.harness import LoopHarness

CODEC = AvroSingleObjectCodec.default()
SERVICES = ("trainer", "joiner", "inference", "game")
SPEED = 15.0  # game seconds per wall second: a tick (15 game seconds) per wall second
TERRITORIES = 8


@dataclass
class LoopResult:
    """What one run of the whole loop measured."""

    fresh_share: float
    seconds: float
    freshness_s: list[float] = field(default_factory=list)  # one per reward trained on
    versions: int = 0
    utilization: list[float] = field(default_factory=list)  # trainer gauge, sampled
    step_ms: float | None = None  # trainer's mean step time over the run
    rss_mb: dict[str, list[float]] = field(default_factory=dict)


def run(
    bootstrap: str,
    seconds: float,
    fresh_share: float,
    speed: float = SPEED,
    territories: int = TERRITORIES,
    every: float = 0.5,
) -> LoopResult:
    """Run the loop for `seconds` with the trainer's fresh_share; measure.

    At speed 15 a game tick (15 game seconds) lasts one wall second, the training interval, so
    decisions come every second as they would with many territories on staggered timers; with
    every territory ticking together at speed 1, "the first decision served" would wait for the
    next tick, up to 15 s, whatever the trainer does.
    """
    result = LoopResult(fresh_share, seconds, rss_mb={name: [] for name in SERVICES})
    with tempfile.TemporaryDirectory() as work:
        loop = LoopHarness(bootstrap, Path(work), territories=territories)
        env = {
            "QUEEN_GAME_SPEED": str(speed),
            "QUEEN_TRAINER_FRESH_SHARE": str(fresh_share),
        }
        try:
            for name in SERVICES:
                loop.start(name, **env)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(every)  # a sampling period, not a synchronisation
                for name, process in loop.processes.items():
                    result.rss_mb[name].append(rss_mb(process.pid))
                utilization = _metric(loop, "queen_trainer_utilization")
                if utilization is not None:
                    result.utilization.append(utilization)
            steps = _metric(loop, "queen_trainer_step_seconds_count") or 0.0
            total = _metric(loop, "queen_trainer_step_seconds_sum") or 0.0
            result.step_ms = 1000 * total / steps if steps else None
        finally:
            loop.stop_all()
        versions = [CODEC.decode(m.value(), ModelVersion) for m in _read(loop, "model-versions")]
        decisions = [CODEC.decode(m.value(), Decision) for m in _read(loop, "decisions")]
    result.versions = len(versions)
    result.freshness_s = freshness(versions, decisions)
    return result


def freshness(versions: list[ModelVersion], decisions: list[Decision]) -> list[float]:
    """Seconds from each reward to the first decision made with the version that first used it.

    A version's training is in every later version, so the first decision made with version v
    *or later* serves it. Rewards whose version never served a decision are left out.
    """
    # first_served[v] = earliest decided_at among decisions made with a version >= v
    by_version: dict[int, int] = {}
    for d in decisions:
        by_version[d.model_version] = min(
            d.decided_at, by_version.get(d.model_version, d.decided_at)
        )
    numbers = sorted(by_version)
    earliest_from: list[int] = []
    best = None
    for v in reversed(numbers):
        best = by_version[v] if best is None else min(best, by_version[v])
        earliest_from.append(best)
    earliest_from.reverse()
    out = []
    for version in versions:
        if version.training is None:
            continue
        at = bisect.bisect_left(numbers, version.version)
        if at == len(numbers):
            continue  # never served before the run ended
        served = earliest_from[at]
        out += [(served - t) / 1e6 for t in version.training.first_use_reward_emitted_at]
    return out


def _metric(loop: LoopHarness, sample: str) -> float | None:
    return loop.metric("trainer", sample)  # None until the trainer serves /metrics


def _read(loop: LoopHarness, name: str) -> list[Any]:
    consumer = make_reader(KafkaSettings(loop.bootstrap))
    assign_from_beginning(consumer, loop.topic(name))
    try:
        return read_until_idle(consumer, idle=1.0, limit=120.0)
    finally:
        consumer.close()
