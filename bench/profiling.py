"""Where the time goes: cProfile around a service loop, reduced to its top entries.

cProfile sees only the thread that enables it, so the loop's thread target runs under it, timed
by that thread's CPU clock.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def new() -> cProfile.Profile:
    """A profile of the calling thread's CPU time: time spent waiting on Kafka is not counted."""
    return cProfile.Profile(time.thread_time)


@dataclass(frozen=True)
class Rate:
    """Records per second through a loop, and how busy its thread was.

    busy: the share of the thread's wall time on CPU; the rest it waited, mostly for fetches.
    """

    per_s: float
    busy: float


class ThreadClock:
    """The CPU clock of another thread (Linux: pthread_getcpuclockid), read from any thread."""

    def __init__(self, thread: threading.Thread) -> None:
        """The clock of `thread`, which must be running."""
        assert thread.ident is not None, "start the thread first"
        self.clock = time.pthread_getcpuclockid(thread.ident)

    def cpu(self) -> float:
        """CPU seconds the thread has used so far."""
        return time.clock_gettime(self.clock)


def profiled(target: Callable[..., Any], profile: cProfile.Profile | None) -> Callable[..., Any]:
    """`target`, run under `profile` when one is given."""
    if profile is None:
        return target
    return lambda *args: profile.runcall(target, *args)


def top(profile: cProfile.Profile, n: int = 12) -> list[dict[str, object]]:
    """The `n` entries with the most own time: function, share of all own time, calls."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values()) or 1.0
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:n]
    return [
        {
            "function": f"{_short(path)}:{line}({name})",
            "own_share": own / total,
            "calls": calls,
        }
        for (path, line, name), (_, calls, own, _cum, _callers) in rows
    ]


def _short(path: str) -> str:
    parts = Path(path).parts
    for anchor in ("site-packages", "main"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    return "/".join(parts[-2:]) if len(parts) > 1 else path
