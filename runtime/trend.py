"""The trend lines of `make run`'s view: learning and drift over the last ticks, not one tick.

`Trend` keeps one point per game tick, read from the scrapes the view already takes: the share
of the oracle − random gap the served decisions held, the expected reward of the served, random
and oracle policies, the trainer's gate agreement (the drift signal) and the rules version in
force. `lines` draws them as rolling means and sparklines in plain text (no terminal library:
the view also prints to logs). The baselines exist only in the simulated world.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from runtime.view import Snapshot

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], low: float, high: float) -> str:
    """One character per value, scaled from `low` to `high`; a gap where a value is missing."""
    span = high - low
    out = []
    for v in values:
        if v is None or not math.isfinite(v) or span <= 0:
            out.append(" ")
            continue
        frac = min(max((v - low) / span, 0.0), 1.0)
        out.append(BARS[min(int(frac * len(BARS)), len(BARS) - 1)])
    return "".join(out)


@dataclass(frozen=True)
class Point:
    """One game tick as the view saw it."""

    tick: int
    share: float | None
    served: float | None
    random: float | None
    oracle: float | None
    agreement: float | None
    rules: int | None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


class Trend:
    """The last `keep` ticks; means over the last `window`."""

    def __init__(self, keep: int = 48, window: int = 20) -> None:
        """Keep `keep` points; average the last `window`."""
        self.points: deque[Point] = deque(maxlen=keep)
        self.window = window
        self.patch_tick: int | None = None  # the first tick seen under new rules

    def update(self, now: Snapshot) -> None:
        """Add a point when the game has played a tick since the last one."""
        ticks = now.value("game", "queen_game_ticks_total")
        if ticks is None or ticks < 1 or (self.points and int(ticks) <= self.points[-1].tick):
            return  # nothing played yet (the gauges still hold their zeros), or no new tick
        rules = now.value("game", "queen_game_rules_version")
        point = Point(
            tick=int(ticks),
            share=_finite(now.value("game", "queen_game_gap_share_ratio")),
            served=_finite(now.value("game", "queen_game_expected_reward", policy="served")),
            random=_finite(now.value("game", "queen_game_expected_reward", policy="random")),
            oracle=_finite(now.value("game", "queen_game_expected_reward", policy="oracle")),
            agreement=_finite(now.value("trainer", "queen_trainer_gate_agreement_ratio")),
            rules=None if rules is None else int(rules),
        )
        last = self.points[-1].rules if self.points else None
        if last is not None and point.rules is not None and point.rules != last:
            self.patch_tick = point.tick
        self.points.append(point)

    def lines(self) -> list[str]:
        """The view's trend lines (none until a tick was seen)."""
        if not self.points:
            return []
        recent = list(self.points)[-self.window :]
        shares = [p.share for p in self.points]
        agreement = [p.agreement for p in self.points]

        def fmt(v: float | None, spec: str) -> str:
            return "-" if v is None else format(v, spec)

        patch = ""
        if self.patch_tick is not None:
            ago = self.points[-1].tick - self.patch_tick
            patch = f" · rules changed {ago} ticks ago"
        return [
            f"learning, last {len(recent)} ticks (simulated world only: a real game has no oracle)",
            "  share of the oracle-random gap {} |{}| 0..1".format(
                fmt(_mean([p.share for p in recent]), ".2f"), sparkline(shares, 0.0, 1.0)
            ),
            "  expected reward per territory: served {} · random {} · oracle {}".format(
                fmt(_mean([p.served for p in recent]), ".3f"),
                fmt(_mean([p.random for p in recent]), ".3f"),
                fmt(_mean([p.oracle for p in recent]), ".3f"),
            ),
            "  drift: gate agreement {} |{}| 0.5..1{}".format(
                fmt(recent[-1].agreement, ".2f"), sparkline(agreement, 0.5, 1.0), patch
            ),
        ]
