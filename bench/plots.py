"""The report's PNG plots: latency CDF, hot-load and freshness CDFs, learning curves.

matplotlib without a display (Agg); each function writes one file and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

from trainer.curve_plots import TICK_MINUTES, levels  # noqa: E402

MARKED = ((50, "o"), (99, "^"))  # the percentiles marked on every CDF


def cdf(
    path: Path,
    title: str,
    xlabel: str,
    series: Mapping[str, Sequence[float]],
    goal: float | None = None,
    log_x: bool = False,
) -> Path:
    """Empirical CDFs of `series` (label -> values), with the goal as a vertical line."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, values in series.items():
        if len(values) == 0:
            continue
        x = np.sort(np.asarray(values, dtype=float))
        marks = {q: float(np.percentile(x, q)) for q, _ in MARKED}
        (line,) = ax.step(
            x,
            np.arange(1, len(x) + 1) / len(x),
            where="post",
            label=f"{label} (n={len(x)}; p50 {marks[50]:.3g}, p99 {marks[99]:.3g})",
        )
        for q, marker in MARKED:
            ax.plot(marks[q], q / 100, marker=marker, color=line.get_color(), markersize=6)
            ax.annotate(
                f"p{q} {marks[q]:.3g}",
                (marks[q], q / 100),
                xytext=(5, -11 if q == 50 else 4),
                textcoords="offset points",
                fontsize=8,
                color=line.get_color(),
            )
    if goal is not None:
        ax.axvline(goal, color="black", linestyle="--", linewidth=1, label=f"goal {goal:g}")
    if log_x:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel="share of events ≤ x", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning(path: Path, curves: Mapping[str, Sequence[float]]) -> Path:
    """Share of the oracle−random gap per game minute: continuous vs the seed's coupled loop."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label in (("continuous_share", "continuous"), ("coupled_share", "coupled (seed)")):
        share = curves.get(key, [])
        minutes = (np.arange(len(share)) + 1) * TICK_MINUTES
        ax.plot(minutes, share, label=label)
    levels(ax)
    ax.set(  # the same axis as make curves' share.png, so the two compare at a glance
        title="Learning: share of the oracle−random gap (noise-free, fixed states)",
        xlabel="game minutes",
        ylabel="share of the gap",
        ylim=(-0.3, 1.05),
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
