"""Liveness from the service loop itself: a heartbeat the loop updates every iteration.

The heartbeat is a timestamp in memory and, when a file is configured, that file's mtime
(touched at most once a second). `python -m runtime.health --file F --max-age S` exits 1 when
the file is older than S seconds: a Kubernetes exec liveness probe that fails when the loop is
wedged, even if the metrics thread still answers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path


class Heartbeat:
    """The loop's proof of life."""

    def __init__(self, path: str = "", min_interval: float = 1.0) -> None:
        """Write to `path` (if any) at most every `min_interval` seconds."""
        self.path = Path(path) if path else None
        self.min_interval = min_interval
        self.last = 0.0
        self._written = 0.0

    def beat(self, now: float | None = None) -> None:
        """Record that the loop is alive now."""
        self.last = time.time() if now is None else now
        if self.path is not None and self.last - self._written >= self.min_interval:
            self.path.touch()
            self._written = self.last

    def age(self, now: float | None = None) -> float:
        """Seconds since the last beat."""
        return (time.time() if now is None else now) - self.last


def is_fresh(path: str, max_age: float, now: float | None = None) -> bool:
    """Return True when the heartbeat file exists and is younger than `max_age` seconds."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return False
    return (time.time() if now is None else now) - mtime <= max_age


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the heartbeat file is fresh, 1 otherwise (a liveness probe)."""
    parser = argparse.ArgumentParser(description="Check a service loop's heartbeat file.")
    parser.add_argument("--file", required=True)
    parser.add_argument("--max-age", type=float, default=30.0)
    args = parser.parse_args(argv)
    if is_fresh(args.file, args.max_age):
        return 0
    print(f"heartbeat {args.file} missing or older than {args.max_age}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
