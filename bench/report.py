"""The Markdown report: each figure beside its goal and baseline, misses said plainly."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, bool | None]  # figure, measured, goal, met (None: reported only)


def _fmt(value: float | None, spec: str = ".0f", unit: str = "") -> str:
    return "not reached" if value is None else f"{value:{spec}}{unit}"


def rows(f: dict[str, Any]) -> list[Row]:
    """One row per figure of the issue, in its order."""
    lat, hot, fresh = f["latency_ms_at_offered"], f["hot_load_ms"], f["freshness_s"]
    step, learn = f["trainer_step_ms"], f["learning"]
    cont, coup = learn["continuous"], learn["coupled"]
    growth = {name: r["growth_pct"] for name, r in f["rss_mb"].items()}
    worst = max(growth, key=lambda n: growth[n] if growth[n] is not None else -1e9)
    c80, s80 = cont["game_minutes_to_80pct"], coup["game_minutes_to_80pct"]
    c50, s50 = cont["game_minutes_to_50pct"], coup["game_minutes_to_50pct"]
    coupled_run = learn.get("coupled_run_game_minutes", learn["run_game_minutes"])
    ratio = _ratio(c80, s80, coupled_run)
    return [
        (
            "inference throughput, one process",
            f"{f['inference_obs_per_s']:,.0f} obs/s (loop thread busy {f['inference_busy']:.0%})",
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
            f"obs → decision latency at {lat['offered_per_s']:,.0f} obs/s offered (first "
            f"{lat['seconds']:g} s)",
            f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms; a bare consumer of the same "
            f"load at the same time (the broker's share): p50 {_fmt(lat['floor']['p50'], '.1f')}"
            f" ms, p99 {_fmt(lat['floor']['p99'], '.1f')} ms{_own_share(lat)}",
            "p99 ≤ 25 ms",
            lat["p99"] <= 25,
        ),
        *_client_rows(f.get("client")),
        (
            "joiner throughput (decisions + rewards in, transactional)",
            f"{f['joiner_events_per_s']:,.0f} events/s (loop thread busy {f['joiner_busy']:.0%})",
            "≥ 50,000 events/s",
            f["joiner_events_per_s"] >= 50_000,
        ),
        (
            "version published → first decision served with it",
            f"p50 {_fmt(hot['p50'])} ms, p99 {_fmt(hot['p99'])} ms ({hot['versions']} versions)",
            "p99 ≤ 250 ms",
            hot["p99"] is not None and hot["p99"] <= 250,
        ),
        _rules_row(f),
        (
            "reward → first step that used it → first decision served by it",
            f"p50 {_fmt(fresh['p50'], '.2f', ' s')}, p90 {_fmt(fresh['p90'], '.2f', ' s')} "
            f"(n={fresh['n']}); seed's pure sampling: p50 "
            f"{_fmt(fresh['baseline_p50'], '.2f', ' s')}, p90 "
            f"{_fmt(fresh['baseline_p90'], '.2f', ' s')}",
            "p50 ≤ 2 s at the default interval",
            fresh["p50"] is not None and fresh["p50"] <= 2,
        ),
        *_gating_rows(f),
        (
            "trainer step time and utilization",
            f"batch 32: {step['batch_32']:.1f} ms, 256: {step['batch_256']:.1f} ms; in the loop "
            f"{_fmt(step['loop_mean_ms'], '.1f', ' ms')} per step, utilization "
            f"{_fmt(step['utilization'], '.1%')} of the 1 s interval",
            "reported",
            None,
        ),
        (
            "recovery after a fault: seconds from restart to progress (SIGTERM: seconds to stop)",
            "; ".join(
                f"{name} {r['recovery_s']:.1f} s"
                + (f" (stopped in {r['stop_s']:.1f} s)" if "SIGTERM" in name else "")
                for name, r in f["faults"]["faults"].items()
            )
            + f"; audit of {f['faults']['observations']:,} observations: "
            f"{f['faults']['violations']} broken promises",
            "audit 0",
            f["faults"]["violations"] == 0,
        ),
        (
            "broker lost under make run → decisions flow again",
            f"{f['broker_loss_s']:.1f} s",
            "reported",
            None,
        ),
        (
            f"RSS before → after {f['hostile_flood']['records']:,} hostile records, per service",
            "; ".join(
                f"{name} {r['before_mb']:.0f} → {r['after_mb']:.0f} MB "
                f"({r['rejected']:,.0f} refused)"
                for name, r in f["hostile_flood"]["rss_mb"].items()
            ),
            "bounded",
            None,
        ),
        (
            "peak RSS per service; growth over the run",
            "; ".join(
                f"{name} {r['peak']:.0f} MB {_fmt(r['growth_pct'], '+.1f', '%')}"
                for name, r in f["rss_mb"].items()
            ),
            "growth < 10%",
            growth[worst] is not None and growth[worst] < 10,
        ),
        (
            "game minutes to 80% (50%) of the oracle−random gap",
            f"continuous {_fmt(c80, '.1f')} ({_fmt(c50, '.1f')}) in a "
            f"{learn['run_game_minutes']:.0f}-minute run; seed's coupled loop "
            f"{_fmt(s80, '.1f')} ({_fmt(s50, '.1f')}) in {coupled_run:.0f} minutes, holding "
            f"{coup['share_of_gap_before_switch']:.2f} of the gap at the end"
            + "".join(
                f"; {label}: {r}"
                for label, r in (("80%", ratio), ("50%", _ratio(c50, s50, coupled_run)))
                if r is not None
            ),
            "continuous ≥ 10× faster",
            _ten_times_faster(c80, s80, coupled_run),
        ),
    ]


def _gating_rows(f: dict[str, Any]) -> list[Row]:
    """Freshness when gated, and a bad version under each setup (absent from older results)."""
    fresh, bad = f["freshness_s"], f.get("bad_version")
    if bad is None:
        return []
    gated = (
        f"p50 {_fmt(fresh['gated_p50'], '.2f', ' s')}, p90 {_fmt(fresh['gated_p90'], '.2f', ' s')} "
        f"(n={fresh['gated_n']})"
        if fresh["gated_n"]
        else "no reward reached a promoted version within the run: the promoter's cooldown "
        "(QUEEN_PROMOTER_MIN_SAMPLES decisions of the served version) outlasts this window"
    )
    out: list[Row] = [
        (
            "the same freshness, gated (reward → trained → promoted → served)",
            f"{gated}, beside immediate p50 {_fmt(fresh['p50'], '.2f', ' s')}",
            "reported: the cost of gating",
            None,
        )
    ]
    for setup, o in bad.items():
        rolled = o["rolled_back_after_s"]
        out.append(
            (
                f"bad version (trained on flipped rewards), {setup}",
                f"{o['bad_decisions']:,} decisions made with it over "
                f"{o['bad_served_s']:.1f} s"
                + ("" if rolled is None else f", rolled back {rolled:.1f} s after its first")
                + f"; served share of the gap {_fmt(o['share_before'], '.2f')} before → "
                f"{_fmt(o['share_after'], '.2f')} after",
                _BAD_GOALS[setup],
                _bad_met(setup, o),
            )
        )
    return out


_BAD_GOALS = {
    "gated": "never served",
    "immediate + rollback": "rolled back within 10 s",
    "immediate": "reported (the seed's behaviour)",
}


def _bad_met(setup: str, o: dict[str, Any]) -> bool | None:
    if setup == "gated":
        return o["bad_decisions"] == 0
    if setup == "immediate + rollback":
        return o["rolled_back_after_s"] is not None and o["rolled_back_after_s"] <= 10
    return None


def _rules_row(f: dict[str, Any]) -> Row:
    r = f.get("rules_to_gate_s") or {"p50": None, "max": None, "patches": 0}
    return (
        "rule set published → first decision gated under it (patch day)",
        f"p50 {_fmt(r['p50'], '.2f', ' s')}, max {_fmt(r['max'], '.2f', ' s')} "
        f"({r['patches']} patches)",
        "≤ 2 s (QUEEN_RULES_WAIT_S)",
        r["max"] is not None and r["max"] <= 2,
    )


def _client_rows(c: dict[str, Any] | None) -> list[Row]:
    """The game-side client's round trip and fallbacks (absent from older results)."""
    if c is None:
        return []
    return [
        (
            f"client round trip observation → decision ({c['decisions_per_s']:,.0f} decisions/s, "
            f"64 territories at once)",
            f"p50 {_fmt(c['p50_ms'], '.1f')} ms, p99 {_fmt(c['p99_ms'], '.1f')} ms "
            f"({c['decisions']:,} decisions)",
            f"p99 within the {c['deadline_s']:g} s deadline",
            c["p99_ms"] is not None and c["p99_ms"] <= 1000 * c["deadline_s"],
        ),
        (
            "client fallbacks per 10,000 decisions under that load",
            f"{c['fallbacks_per_10k']:.1f} ({c['fallbacks']} of {c['decisions']:,})",
            "≤ 1",
            c["fallbacks_per_10k"] <= 1,
        ),
    ]


def _budget(budget: dict[str, dict[str, float]]) -> list[str]:
    """Microseconds per record by step, without a broker, and the ceiling they leave."""
    names = list(budget)
    lines = [
        "",
        "## Where one record's time goes, without a broker (µs per record, best of 5)",
        "",
        "| step | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for step in next(iter(budget.values())):
        lines.append(f"| {step} | " + " | ".join(f"{budget[n][step]:.1f}" for n in names) + " |")
    totals = {n: sum(budget[n].values()) for n in names}
    lines.append("| sum | " + " | ".join(f"{totals[n]:.1f}" for n in names) + " |")
    lines.append(
        "| ceiling of one process before any Kafka work | "
        + " | ".join(f"{1e6 / totals[n]:,.0f}/s" for n in names)
        + " |"
    )
    return lines


def _own_share(lat: dict[str, Any]) -> str:
    """Inference's own share of the latency: what it adds above the bare consumer."""
    floor = lat["floor"]
    if floor["p50"] is None or floor["p99"] is None:
        return ""
    return (
        f"; inference's own share: p50 {lat['p50'] - floor['p50']:+.1f} ms, "
        f"p99 {lat['p99'] - floor['p99']:+.1f} ms"
    )


def _ratio(cont: float | None, coupled: float | None, run: float) -> str | None:
    """How many times faster the continuous loop reached 80%, or the bound the run gives."""
    if cont is None:
        return None
    if coupled is None:
        return f"≥ {run / cont:.1f}× faster"
    return f"{coupled / cont:.1f}× faster"


def _ten_times_faster(cont: float | None, coupled: float | None, run: float) -> bool | None:
    """Met, missed, or None when the coupled loop never got there and the run was too short."""
    if cont is None:  # missed only when the coupled loop got there and this one did not
        return False if coupled is not None else None
    if coupled is None:  # it takes longer than the run: the ratio is at least run / cont
        return True if run / cont >= 10 else None
    return coupled / cont >= 10


def render(figures: dict[str, Any], meta: dict[str, Any]) -> str:
    """The whole report."""
    lines = [
        f"# queenloop benchmark — {meta['date']}",
        "",
        f"Machine: {meta['machine']['cores']} cores, {meta['machine']['cpu']}; "
        f"broker: {meta['broker']}; mode: {meta['mode']}.",
        "",
        "| figure | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for name, value, goal, met in rows(figures):
        verdict = "—" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {value} | {goal} | {verdict} |")
    fresh = figures["freshness_s"]
    lines += [
        "",
        "Busy: the loop thread's CPU time over its wall time; the rest it waited for the "
        "broker's fetches. A loop below ~90% busy is held back by the broker, not by its code.",
        f"Freshness ran the whole loop (game at speed {fresh['game_speed']:g}, "
        f"{fresh['territories']} territories: a tick every {15 / fresh['game_speed']:g} s) "
        "three times, side by side on "
        f"the same broker: with the trainer's default fresh_share {fresh['fresh_share']:g} and "
        "with 0 (the seed's pure sampling), both serving every version as it comes (immediate), "
        "and gated, with the promoter at its deployed settings. All count the rewards emitted "
        "from the trainer's first version on (the start-up backlog is not the loop's freshness).",
        "The bad-version runs (bench/promotion.py) are one whole loop per setup, one after "
        "another (32 territories, speed 40); the shares are the game's own exact score of the "
        "served decisions, before and after the bad version was published. The loop is still "
        "learning, so compare the setups' shares after, not after with before.",
    ]
    lat = figures["latency_ms_at_offered"]
    whole = lat["whole_run"]
    lines.append(
        f"Latency is read over the first {lat['seconds']:g} s. Tansu's memory storage takes "
        "longer to answer a fetch as a partition grows: over the whole "
        f"{whole['seconds']} s run a bare consumer saw p50 {_fmt(whole['floor']['p50'], '.1f')} "
        f"ms, p99 {_fmt(whole['floor']['p99'], '.1f')} ms and inference p50 "
        f"{_fmt(whole['inference']['p50'], '.1f')} ms, p99 "
        f"{_fmt(whole['inference']['p99'], '.1f')} ms: the broker's growth, which a Kafka "
        "broker (an offset index per segment) does not have."
    )
    if figures.get("seconds"):
        parts = ", ".join(f"{name} {t:.0f} s" for name, t in figures["seconds"].items())
        lines.append(f"Wall time of each part of this run: {parts}.")
    learn = figures["learning"]["continuous"]
    if learn["game_minutes_to_80pct"] is None:
        lines.append(
            "Learning: the continuous loop did not reach 80% of the gap within the run "
            f"(share over its last 20 ticks: {learn['share_of_gap_before_switch']:.2f}); "
            "see docs/learning.md."
        )
    if figures.get("budget_us"):
        lines += _budget(figures["budget_us"])
    for name, entries in figures.get("profiles", {}).items():
        lines += ["", f"## Where the time goes: {name} (cProfile, own time, top entries)", ""]
        lines += ["| own time | calls | function |", "|---|---|---|"]
        lines += [f"| {e['own_share']:.1%} | {e['calls']:,} | `{e['function']}` |" for e in entries]
    if figures.get("plots"):
        lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in figures["plots"])]
    return "\n".join(lines) + "\n"
