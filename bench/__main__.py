"""`make bench` (`python -m bench`): every figure beside its goal and its baseline, one run.

    python -m bench [--quick]        (BENCH=quick: about 5 minutes; the full run about 14)

Runs on the embedded broker, or on KAFKA_BOOTSTRAP_SERVERS. Writes bench/results/<date>.json and
<date>.md and prints the table. Figures come from the services' own timestamps and metrics.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench import (
    budget,
    client,
    components,
    inference,
    live,
    loop,
    plots,
    profiling,
    promotion,
    report,
    resilience,
)
from bench import rules as patch
from bench.profiling import Rate
from runtime.broker import EmbeddedBroker
from runtime.service import tune_gc
from runtime.settings import KafkaSettings
from trainer.settings import ContinuousTrainingConfig

SIZES = {  # profile 0: no cProfile run (the per-record budget still says where time goes)
    "quick": {
        "obs": 20_000,
        "naive": 1_000,
        "pairs": 10_000,
        "live_s": 4,
        "loop_s": 4,
        "ticks": 70,
        "coupled": 70,
        "profile": 0,
        "flood": 20_000,
        "client": 2_000,
        "bad_before_s": 4,
        "bad_after_s": 8,
    },
    "full": {
        "obs": 100_000,
        "naive": 5_000,
        "pairs": 50_000,
        "live_s": 30,
        "loop_s": 60,
        "ticks": 600,
        "coupled": 6_000,  # 10× the continuous loop's ~540 ticks to 80% of the gap
        "profile": 20_000,
        "flood": 100_000,
        "client": 10_000,
        "bad_before_s": 10,
        "bad_after_s": 30,
    },
}


T = TypeVar("T")
EARLY_S = 5  # seconds: latency is read over the first 5 s of the paced run


def machine() -> dict[str, object]:
    """Cores and CPU model of this machine."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version()}


def measure(bootstrap: str, size: dict[str, int]) -> dict[str, Any]:
    """Every figure, in one invocation, each beside its baseline."""
    settings = KafkaSettings(bootstrap)
    seconds: dict[str, float] = {}  # wall time of each part of the run

    def timed(name: str, part: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return part(*args)
        finally:
            seconds[name] = time.perf_counter() - start

    batched = timed("inference, batched", _batched, settings, size["obs"])
    naive = timed("inference, naive", _naive, settings, size["naive"])
    paced = timed("latency, its floor and hot-load", live.run, bootstrap, size["live_s"])
    game_client = timed("game-side client", client.round_trip, bootstrap, size["client"])
    share = ContinuousTrainingConfig.fresh_share
    fresh, seed, gated = timed(
        "whole loop, three side by side",
        loop.run,
        bootstrap,
        size["loop_s"],
        ((share, "immediate"), (0.0, "immediate"), (share, "gated")),
    )
    bad_version = timed(
        "a bad version: gated, immediate + rollback, immediate",
        promotion.scenario,
        bootstrap,
        size["bad_before_s"],
        size["bad_after_s"],
    )
    joiner = timed("joiner", components.joiner_throughput, settings, size["pairs"])
    rules_to_gate = timed("patch day: rule set -> gate", patch.patch_day, bootstrap)
    learning, curves = timed("learning", components.learning, size["ticks"], size["coupled"])
    quick = size["flood"] < 100_000
    faults = timed("faults (each service killed, stopped)", resilience.faults, bootstrap, quick)
    broker_loss = timed("broker loss under make run", resilience.broker_loss)
    flood = timed("hostile flood", resilience.hostile_flood, size["flood"])
    early = int(EARLY_S * paced.offered_per_s)
    figures: dict[str, Any] = {
        "inference_obs_per_s": batched.per_s,
        "inference_busy": batched.busy,
        "naive_obs_per_s": naive,
        "batched_over_naive": batched.per_s / naive,
        "latency_ms_at_offered": {
            "offered_per_s": paced.offered_per_s,
            # the first 5 s: Tansu's fetch time grows with the partition (see the report)
            "seconds": min(size["live_s"], EARLY_S),
            **live.percentiles(paced.latency_ms[:early]),
            "floor": live.percentiles(paced.floor_ms[:early]),
            "whole_run": {
                "seconds": size["live_s"],
                "inference": live.percentiles(paced.latency_ms),
                "floor": live.percentiles(paced.floor_ms),
            },
        },
        "hot_load_ms": {**live.percentiles(paced.hot_load_ms), "versions": len(paced.hot_load_ms)},
        "freshness_s": {
            **_p50_p90(fresh.freshness_s),
            "n": len(fresh.freshness_s),
            **{f"baseline_{k}": v for k, v in _p50_p90(seed.freshness_s).items()},
            "baseline_n": len(seed.freshness_s),
            **{f"gated_{k}": v for k, v in _p50_p90(gated.freshness_s).items()},
            "gated_n": len(gated.freshness_s),
            "fresh_share": fresh.fresh_share,
            "game_speed": loop.SPEED,
            "territories": loop.TERRITORIES,
        },
        "bad_version": bad_version,
        "rules_to_gate_s": rules_to_gate,
        "client": game_client,
        "joiner_events_per_s": joiner.per_s,
        "joiner_busy": joiner.busy,
        "trainer_step_ms": {
            "batch_32": components.trainer_step_ms(32),
            "batch_256": components.trainer_step_ms(256),
            "loop_mean_ms": fresh.step_ms,
            "utilization": float(np.mean(fresh.utilization)) if fresh.utilization else None,
        },
        "rss_mb": {
            "inference (2,000 obs/s)": rss_summary(paced.rss_mb),
            **{name: rss_summary(values) for name, values in fresh.rss_mb.items()},
        },
        "learning": learning,
        "curves": curves,
        "faults": faults,
        "broker_loss_s": broker_loss,
        "hostile_flood": {"records": size["flood"], "rss_mb": flood},
        "seconds": seconds,
        "raw": {
            "latency_ms": paced.latency_ms,
            "floor_ms": paced.floor_ms,
            "hot_load_ms": paced.hot_load_ms,
            "freshness_s": fresh.freshness_s,
            "freshness_seed_sampling_s": seed.freshness_s,
            "freshness_gated_s": gated.freshness_s,
        },
    }
    figures["budget_us"] = timed(
        "per-record budget", lambda: {"inference": budget.inference(), "joiner": budget.joiner()}
    )
    figures["profiles"] = timed("profiles", profiles, settings, figures, size["profile"])
    return figures


def _batched(settings: KafkaSettings, n: int) -> Rate:
    return inference.batched(settings, *inference.prepare(settings, n), n)


def _naive(settings: KafkaSettings, n: int) -> float:
    return inference.naive(settings, *inference.prepare(settings, n), n)


def rss_summary(samples: list[float]) -> dict[str, float | None]:
    """Peak RSS, and growth from the end of the first quarter (warm-up) to the end."""
    warm = [s for s in samples[len(samples) // 4 :] if s > 0]
    growth = 100 * (warm[-1] - warm[0]) / warm[0] if len(warm) > 1 else None
    return {"peak": max(samples, default=0.0), "growth_pct": growth}


def profiles(settings: KafkaSettings, f: dict[str, Any], n: int) -> dict[str, Any]:
    """CProfile top entries of each component that missed its throughput goal (n records)."""
    out: dict[str, Any] = {}
    if n == 0:
        return out
    if f["inference_obs_per_s"] < 30_000:
        profile = profiling.new()
        source, sink = inference.prepare(settings, n)
        inference.batched(settings, source, sink, n, profile)
        out["inference (batched loop)"] = profiling.top(profile)
    if f["joiner_events_per_s"] < 50_000:
        profile = profiling.new()
        components.joiner_throughput(settings, n // 2, profile)
        out["joiner (transactional loop)"] = profiling.top(profile)
    return out


def _p50_p90(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None}
    return {"p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90))}


def draw(figures: dict[str, Any], out: Path, stem: str) -> list[str]:
    """The PNG plots; return their file names."""
    raw = figures["raw"]
    files = [
        plots.cdf(
            out / f"{stem}-latency.png",
            "Observation → decision latency at 2,000 obs/s offered (the whole run)",
            "milliseconds",
            {"inference": raw["latency_ms"], "bare consumer (floor)": raw["floor_ms"]},
            goal=25,
            log_x=True,
        ),
        plots.cdf(
            out / f"{stem}-hot-load.png",
            "Version published → first decision served with it",
            "milliseconds",
            {"hot-load": raw["hot_load_ms"]},
            goal=250,
        ),
        plots.cdf(
            out / f"{stem}-freshness.png",
            "Reward → first step that used it → first decision served by it",
            "seconds",
            {
                "default (fresh share)": raw["freshness_s"],
                "seed's pure sampling": raw["freshness_seed_sampling_s"],
                "gated (promoter)": raw["freshness_gated_s"],
            },
            goal=2,
        ),
        plots.learning(out / f"{stem}-learning.png", figures["curves"]),
    ]
    return [f.name for f in files]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print, write."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick or os.environ.get("BENCH") == "quick" else "full"
    tune_gc()  # the loops measured in this process run as the services do
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if bootstrap else EmbeddedBroker().start()
    try:
        figures = measure(bootstrap or broker.bootstrap_servers, SIZES[mode])  # type: ignore[union-attr]
    finally:
        if broker is not None:
            broker.stop()
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M%SZ"),
        "machine": machine(),
        "broker": "env" if bootstrap else "embedded (Tansu)",
        "mode": mode,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures["plots"] = draw(figures, out, meta["date"])
    text = report.render(figures, meta)
    figures.pop("raw")  # in the plots; the JSON keeps the figures
    (out / f"{meta['date']}.json").write_text(
        json.dumps({"meta": meta, "figures": figures}, indent=1)
    )
    (out / f"{meta['date']}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
