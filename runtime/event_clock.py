"""Sane event times: a record may not move an epoch's clock far, nor start one far from now.

Event time is game time, and each run of the game (an *epoch*) has its own clock: a restarted
game starts again at seq 0, at its own time, so clocks are kept per epoch (and, where a service
keeps them per partition, per partition and epoch). One record stamped years ahead must not
jump a clock (it would expire every real pending record), and one stamped in 1970 must not be
taken either. So a record is refused when its event time is more than `max_ahead_ms` ahead of
its clock's newest time, more than `max_behind_ms` behind it, or, for the first record of a
clock, more than `max_wall_skew_ms` away from the wall clock (wide: the simulated game runs
its clock faster than the wall's). Pure; the services own the settings.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class SkewLimits:
    """How far an event time may be from its clock (game ms) and from the wall clock."""

    max_ahead_ms: int = 3600 * 1000  # an hour of game time past the newest seen
    max_behind_ms: int = 3600 * 1000  # an hour of game time before the newest seen
    max_wall_skew_ms: int = 365 * DAY_MS  # a new clock's first time vs the wall clock

    def __post_init__(self) -> None:
        """Every limit must be positive."""
        for name in ("max_ahead_ms", "max_behind_ms", "max_wall_skew_ms"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be > 0")


class EventClocks:
    """The newest event time per clock key, with the skew check; at most `max_clocks` kept."""

    def __init__(self, limits: SkewLimits | None = None, max_clocks: int = 100_000) -> None:
        """Check against `limits`; forget the least recently advanced clock beyond `max_clocks`."""
        self.limits = limits or SkewLimits()
        self.max_clocks = max_clocks
        self.newest: OrderedDict[Hashable, int] = OrderedDict()

    def refusal(self, key: Hashable, event_time: int, now_ms: int) -> str | None:
        """Why `event_time` is refused on clock `key` ("event_time_ahead", ...), or None."""
        newest = self.newest.get(key)
        if newest is None:
            if abs(event_time - now_ms) > self.limits.max_wall_skew_ms:
                return "event_time_wall_skew"
            return None
        if event_time > newest + self.limits.max_ahead_ms:
            return "event_time_ahead"
        if event_time < newest - self.limits.max_behind_ms:
            return "event_time_behind"
        return None

    def advance(self, key: Hashable, event_time: int) -> None:
        """Move clock `key` to `event_time` when it is newer."""
        newest = self.newest.get(key)
        if newest is None or event_time > newest:
            self.newest[key] = event_time
            self.newest.move_to_end(key)
            if len(self.newest) > self.max_clocks:
                self.newest.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        """Drop clock `key` (its epoch ended, its partition moved)."""
        self.newest.pop(key, None)


def explain(reason: str, event_time: int, newest: int | None, now_ms: int) -> str:
    """A message for a refused event time."""
    if newest is None:
        return f"event_time={event_time} is {(event_time - now_ms) / DAY_MS:+.1f} days from now"
    return f"event_time={event_time} is {(event_time - newest) / 1000:+.0f} s from its clock"
