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
from collections.abc import Sequence
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
# The game ticks every territory at once, so "the first decision served" waits for the next
# tick. In the real game 64 territories on their own 15 s timers decide every 0.23 s on average:
# at speed 60 the game ticks every 0.25 s, and 2 territories give 8 experiences a second, about
# twice the real game's rate. (At speed 15 the 1 s tick alone quantized freshness to 1 or 2 s.)
SPEED = 60.0  # game seconds per wall second
TERRITORIES = 2
TAIL_S = 3.0  # the loop runs on this long after the window, for its last rewards to be served


@dataclass
class LoopResult:
    """What one run of the whole loop measured."""

    fresh_share: float
    seconds: float
    mode: str = "immediate"  # QUEEN_SERVING_MODE
    freshness_s: list[float] = field(default_factory=list)  # one per reward trained on
    versions: int = 0
    utilization: list[float] = field(default_factory=list)  # trainer gauge, sampled
    step_ms: float | None = None  # trainer's mean step time over the run
    rss_mb: dict[str, list[float]] = field(default_factory=dict)


def run(
    bootstrap: str,
    seconds: float,
    variants: Sequence[tuple[float, str]],
    speed: float = SPEED,
    territories: int = TERRITORIES,
    every: float = 0.5,
) -> list[LoopResult]:
    """Run one loop per (trainer fresh_share, serving mode), side by side, for `seconds`.

    The loops share the machine and the broker at the same moment, so each is the other's
    baseline under the same noise. SPEED and TERRITORIES (above) say why the game runs fast. A
    loop in gated mode runs the promoter too, with its deployed settings
    (bench/promotion.PROMOTER_DEFAULTS): its freshness includes waiting for the promotion.
    """
    from bench.promotion import PROMOTER_DEFAULTS

    results = [
        LoopResult(share, seconds, mode, rss_mb={n: [] for n in _services(mode)})
        for share, mode in variants
    ]
    with tempfile.TemporaryDirectory() as work:
        loops = []
        for i, (share, mode) in enumerate(variants):
            (Path(work) / str(i)).mkdir()
            loops.append(LoopHarness(bootstrap, Path(work) / str(i), territories=territories))
            env = {
                "QUEEN_GAME_SPEED": str(speed),
                "QUEEN_TRAINER_FRESH_SHARE": str(share),
                "QUEEN_SERVING_MODE": mode,
                **PROMOTER_DEFAULTS,
            }
            for name in _services(mode):
                loops[-1].start(name, **env)
        try:
            for loop in loops:
                _wait_first_version(loop)
            window = (time.time_ns() // 1000, time.time_ns() // 1000 + int(seconds * 1e6))
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                time.sleep(every)  # a sampling period, not a synchronisation
                for loop, result in zip(loops, results, strict=True):
                    _sample(loop, result)
            time.sleep(TAIL_S)  # the window's last rewards get their chance to be served
            for loop, result in zip(loops, results, strict=True):
                steps = _metric(loop, "queen_trainer_step_seconds_count") or 0.0
                total = _metric(loop, "queen_trainer_step_seconds_sum") or 0.0
                result.step_ms = 1000 * total / steps if steps else None
        finally:
            for loop in loops:
                loop.stop_all()
        topics = [loop.topic(name) for loop in loops for name in ("model-versions", "decisions")]
        read = _read(bootstrap, topics)  # one idle wait for every topic, not one each
        for loop, result in zip(loops, results, strict=True):
            versions = [
                CODEC.decode(m.value(), ModelVersion) for m in read[loop.topic("model-versions")]
            ]
            decisions = [CODEC.decode(m.value(), Decision) for m in read[loop.topic("decisions")]]
            result.versions = len(versions)
            result.freshness_s = freshness(versions, decisions, window)
    return results


def _services(mode: str) -> tuple[str, ...]:
    return SERVICES if mode == "immediate" else ("promoter", *SERVICES)


def _sample(loop: LoopHarness, result: LoopResult) -> None:
    """Every service's RSS and the trainer's utilization, now."""
    for name, process in loop.processes.items():
        result.rss_mb[name].append(rss_mb(process.pid))
    utilization = _metric(loop, "queen_trainer_utilization_ratio")
    if utilization is not None:
        result.utilization.append(utilization)


def freshness(
    versions: list[ModelVersion],
    decisions: list[Decision],
    window: tuple[int, int] = (0, 2**63),
) -> list[float]:
    """Seconds from each reward to the first decision made with the version that first used it.

    A version's training is in every later version, so the first decision made with version v
    *or later* serves it. Only rewards emitted within `window` (µs, [start, end)) count: the
    backlog of the start-up is not the loop's freshness. Rewards whose version never served a
    decision are left out.
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
        out += [
            (served - t) / 1e6
            for t in version.training.first_use_reward_emitted_at
            if window[0] <= t < window[1]
        ]
    return out


def _wait_first_version(loop: LoopHarness, limit: float = 120.0) -> None:
    """Until the trainer has published a version: the loop is warm, the measuring starts.

    Processes starting, the group joining and the buffer's first batch filling are the loop's
    start-up, not its freshness (the bench's quick run would otherwise measure little else).
    """
    deadline = time.monotonic() + limit
    while not _metric(loop, "queen_trainer_versions_published_total"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the trainer published no version in {limit:g} s")
        time.sleep(0.2)


def _metric(loop: LoopHarness, sample: str) -> float | None:
    return loop.metric("trainer", sample)  # None until the trainer serves /metrics


def _read(bootstrap: str, topics: list[str]) -> dict[str, list[Any]]:
    """Every record of `topics`, by topic, read with one consumer until it goes idle."""
    consumer = make_reader(KafkaSettings(bootstrap))
    assign_from_beginning(consumer, *topics)
    try:
        messages = read_until_idle(consumer, idle=1.0, limit=120.0)
    finally:
        consumer.close()
    out: dict[str, list[Any]] = {topic: [] for topic in topics}
    for m in messages:
        out[m.topic()].append(m)
    return out
