"""What `python -m trainer.curves` shows: PNG plots and the per-seed table of its figures.

`share_plot`: per seed, the share of the oracle − random gap over game minutes, the continuous
and the seed's coupled loop on the same axis, patch day marked, the 50/70/80/90% levels
labelled; below, the drift signal (gate agreement) of the continuous loop. matplotlib (a dev
dependency) is imported when a plot is drawn, without a display (Agg).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TICK_MINUTES = 15 / 60  # one game tick, in game minutes
LEVEL_LINES = (0.5, 0.7, 0.8, 0.9)
SERIES = (
    ("continuous_share", "continuous loop", "tab:blue"),
    ("coupled_share", "coupled (seed)", "tab:orange"),
)


def share_plot(
    path: Path, runs: Mapping[int, Mapping[str, Sequence[float]]], switch: int | None
) -> Path:
    """Write the learning curves of every seed in `runs` (seed -> curves) to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = sorted(runs)
    fig, axes = plt.subplots(
        len(seeds) + 1,
        1,
        figsize=(9, 3.1 * len(seeds) + 2.2),
        sharex=True,
        gridspec_kw={"height_ratios": [3] * len(seeds) + [1.6]},
        squeeze=False,
    )
    patch_minute = None if switch is None else switch * TICK_MINUTES
    for ax, seed in zip(axes[:-1, 0], seeds, strict=True):
        curves = runs[seed]
        for key, label, color in SERIES:
            if key in curves:
                share = curves[key]
                ax.plot(_minutes(len(share)), share, label=label, color=color, linewidth=1.3)
        levels(ax)
        patch_day(ax, patch_minute)
        ax.set(ylabel="share of the gap", ylim=(-0.3, 1.05), title=f"seed {seed}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    drift = axes[-1, 0]
    for seed in seeds:
        agreement = runs[seed].get("gate_agreement", [])
        drift.plot(_minutes(len(agreement)), agreement, linewidth=1, label=f"seed {seed}")
    patch_day(drift, patch_minute)
    drift.set(xlabel="game minutes", ylabel="gate agreement", ylim=(0.4, 1.05))
    drift.set_title("drift signal: the trainer's gate agrees with the logged SEND/WAIT", fontsize=9)
    drift.grid(alpha=0.3)
    drift.legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "Share of the oracle − random gap (greedy policy behind the gate, exact expected reward,"
        " 2,048 fixed states)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _minutes(n: int) -> list[float]:
    """Game minute at which each of n per-tick points is served (point t from tick t + 1)."""
    return [(t + 1) * TICK_MINUTES for t in range(n)]


def levels(ax: Any) -> None:
    """The 50/70/80/90% lines, labelled at the right edge."""
    for level in LEVEL_LINES:
        ax.axhline(level, color="grey", linestyle=":", linewidth=0.9)
        ax.annotate(
            f"{level:.0%}",
            (1.0, level),
            xycoords=("axes fraction", "data"),
            xytext=(3, -3),
            textcoords="offset points",
            fontsize=8,
            color="dimgrey",
        )


def patch_day(ax: Any, minute: float | None) -> None:
    """Patch day as a labelled vertical line (nothing when there is none)."""
    if minute is not None:
        ax.axvline(minute, color="crimson", linestyle="--", linewidth=1)
        ax.annotate(
            "patch day",
            (minute, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=8,
            color="crimson",
        )


# (label, key, format, only with patch day)
ROWS = (
    (
        "share of the gap, last 20 ticks before patch day",
        "share_of_gap_before_switch",
        "share",
        False,
    ),
    ("game minutes to 50% / 70% / 80% / 90%", "game_minutes_to_{}pct", "levels", False),
    ("lowest share once 90% is held", "min_share_once_90pct_before_switch", "share", False),
    ("share right after patch day", "share_right_after_switch", "share", True),
    ("patch day → minutes to 50% / 70% / 90% of the new gap", "recovery", "recovery", True),
    ("share at the end (last 20 ticks)", "share_at_end", "share", True),
    (
        "realized reward, last 20 ticks before patch day",
        "realized_reward_last_20_ticks",
        "reward",
        False,
    ),
)


def markdown_table(
    reports: Mapping[int, Mapping[str, Any]], switched: bool, loop: str = "continuous"
) -> str:
    """One loop's figures per seed (columns) as a markdown table (the trainer's CPU too)."""
    seeds = sorted(reports)
    lines = [
        f"| {loop} loop | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    for label, key, kind, needs_switch in ROWS:
        if needs_switch and not switched:
            continue
        cells = [_cell(reports[s][loop], key, kind) for s in seeds]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if loop != "continuous":
        return "\n".join(lines)
    cpu = [f"{reports[s]['trainer_cpu_ms_per_tick']:.0f}" for s in seeds]
    lines.append("| trainer CPU ms per 15-s tick | " + " | ".join(cpu) + " |")
    oracle = [f"{reports[s]['realized_reward_oracle_last_20_ticks']:.3f}" for s in seeds]
    lines.append("| the oracle's realized reward, same 20 ticks | " + " | ".join(oracle) + " |")
    step = [f"{reports[s]['trainer_cpu_ms_per_step']:.2f}" for s in seeds]
    lines.append("| trainer CPU ms per step | " + " | ".join(step) + " |")
    if switched:
        drift = [
            _minutes_cell(reports[s].get("gate_agreement_recovery_game_minutes")) for s in seeds
        ]
        lines.append("| drift signal back to ≥ 0.99 (game minutes) | " + " | ".join(drift) + " |")
    return "\n".join(lines)


def _cell(entry: Mapping[str, Any], key: str, kind: str) -> str:
    if kind == "levels":
        return " / ".join(_minutes_cell(entry.get(key.format(p))) for p in (50, 70, 80, 90))
    if kind == "recovery":
        keys = (f"recovery_game_minutes_to_{p}pct" for p in (50, 70, 90))
        return " / ".join(_minutes_cell(entry.get(k)) for k in keys)
    value = entry.get(key)
    if value is None:
        return "—"
    return f"{value:.3f}" if kind == "reward" else f"{value:.2f}"


def _minutes_cell(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")
