"""`make bench` (`python -m bench`): every figure beside its goal and its baseline, one run.

    python -m bench [--quick]        (BENCH=quick: under a minute of measuring)

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
from collections.abc import Sequence
from pathlib import Path

from bench import components, inference, live
from runtime.broker import EmbeddedBroker
from runtime.settings import KafkaSettings

SIZES = {
    "quick": {"obs": 20_000, "naive": 2_000, "pairs": 10_000, "live_s": 10, "ticks": 160},
    "full": {"obs": 100_000, "naive": 5_000, "pairs": 50_000, "live_s": 30, "ticks": 600},
}


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


def measure(bootstrap: str, size: dict[str, int]) -> dict[str, object]:
    """Every figure, in one invocation."""
    settings = KafkaSettings(bootstrap)
    source, sink = inference.prepare(settings, size["obs"])
    batched = inference.batched(settings, source, sink, size["obs"])
    source, sink = inference.prepare(settings, size["naive"])
    naive = inference.naive(settings, source, sink, size["naive"])
    paced = live.run(bootstrap, size["live_s"])
    rss = paced.rss_mb
    warm = rss[len(rss) // 4 :] or rss
    learning, curves = components.learning(size["ticks"], None)
    return {
        "inference_obs_per_s": batched,
        "naive_obs_per_s": naive,
        "batched_over_naive": batched / naive,
        "latency_ms_at_offered": {
            "offered_per_s": paced.offered_per_s,
            **live.percentiles(paced.latency_ms),
        },
        "hot_load_ms": {**live.percentiles(paced.hot_load_ms), "versions": len(paced.hot_load_ms)},
        "joiner_events_per_s": components.joiner_throughput(settings, size["pairs"]),
        "trainer_step_ms": {
            "batch_32": components.trainer_step_ms(32),
            "batch_256": components.trainer_step_ms(256),
        },
        "inference_rss_mb": {
            "peak": max(rss, default=0.0),
            "growth_pct": 100 * (warm[-1] - warm[0]) / warm[0] if warm else None,
        },
        "learning": learning,
        "curves": curves,
    }


def report(figures: dict[str, object], meta: dict[str, object]) -> str:
    """The Markdown report: each figure beside its goal, misses said plainly."""
    f = figures
    lat, hot = f["latency_ms_at_offered"], f["hot_load_ms"]
    step = f["trainer_step_ms"]
    learn = f["learning"]
    cont, coup = learn["continuous"], learn["coupled"]  # type: ignore[index]
    rows = [
        (
            "inference throughput, one process",
            f"{f['inference_obs_per_s']:,.0f} obs/s",
            "≥ 30,000 obs/s",
            f["inference_obs_per_s"] >= 30_000,
        ),
        (
            "batched vs naive per-message consumer",
            f"{f['batched_over_naive']:.1f}× ({f['naive_obs_per_s']:,.0f} obs/s naive)",
            "≥ 5×",
            f["batched_over_naive"] >= 5,
        ),
        (
            f"obs → decision latency at {lat['offered_per_s']:,.0f} obs/s",
            f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms",
            "p99 ≤ 25 ms",
            lat["p99"] <= 25,
        ),
        (
            "joiner throughput (decisions + rewards in)",
            f"{f['joiner_events_per_s']:,.0f} events/s",
            "≥ 50,000 events/s",
            f["joiner_events_per_s"] >= 50_000,
        ),
        (
            "version published → first decision served with it",
            f"p50 {hot['p50']:.0f} ms, p99 {hot['p99']:.0f} ms ({hot['versions']} versions)",
            "p99 ≤ 250 ms",
            hot["p99"] is not None and hot["p99"] <= 250,
        ),
        (
            "trainer step time",
            f"batch 32: {step['batch_32']:.1f} ms, 256: {step['batch_256']:.1f} "
            f"ms (utilization at 1 s: {step['batch_32'] / 10:.1f}%)",
            "reported",
            None,
        ),
        (
            "inference peak RSS, growth over the run",
            f"{f['inference_rss_mb']['peak']:.0f} MB, {f['inference_rss_mb']['growth_pct']:+.1f}%",
            "growth < 10%",
            f["inference_rss_mb"]["growth_pct"] < 10,
        ),
        (
            "game minutes to 50% / 80% of the oracle−random gap",
            f"continuous {cont['game_minutes_to_50pct']} / {cont['game_minutes_to_80pct']}; "
            f"coupled {coup['game_minutes_to_50pct']} / {coup['game_minutes_to_80pct']}",
            "continuous ≥ 10× faster",
            None,
        ),
    ]
    lines = [
        f"# queenloop benchmark — {meta['date']}",
        "",
        f"Machine: {meta['machine']['cores']} cores, {meta['machine']['cpu']}; "
        f"broker: {meta['broker']}; mode: {meta['mode']}.",
        "",
        "| figure | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for name, value, goal, met in rows:
        lines.append(
            f"| {name} | {value} | {goal} | "
            f"{'—' if met is None else ('yes' if met else '**no**')} |"
        )
    lines += ["", "(None = not reached within the run.)", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print, write."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick or os.environ.get("BENCH") == "quick" else "full"
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if bootstrap else EmbeddedBroker().start()
    try:
        figures = measure(bootstrap or broker.bootstrap_servers, SIZES[mode])  # type: ignore[union-attr]
    finally:
        if broker is not None:
            broker.stop()
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M%SZ"),
        "machine": machine(),
        "broker": "env" if bootstrap else "embedded (Tansu)",
        "mode": mode,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = report(figures, meta)
    (out / f"{meta['date']}.json").write_text(
        json.dumps({"meta": meta, "figures": figures}, indent=1)
    )
    (out / f"{meta['date']}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
