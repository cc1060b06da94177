"""The trainer's watchdog: exit non-zero when training stalls while data waits.

When a batch has been available for longer than `multiple × interval` without a step
completing (a hung step, or steps that keep rolling back), the process logs why and exits with
code 3, so the orchestrator (Kubernetes, make run) restarts it from its last version.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

EXIT_STALLED = 3


class Watchdog(threading.Thread):
    """Checks `waiting_since()` every second against the limit."""

    def __init__(
        self,
        waiting_since: Callable[[], float | None],
        limit_seconds: float,
        stop: threading.Event,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        """`waiting_since()` is the monotonic time a batch became available without a step."""
        super().__init__(name="trainer-watchdog", daemon=True)
        self.waiting_since = waiting_since
        self.limit = limit_seconds
        self.stop = stop
        self.exit_process = exit_process

    def stalled_for(self, now: float) -> float | None:
        """Seconds training has stalled past the limit at monotonic time `now`, else None."""
        since = self.waiting_since()
        if since is None or now - since <= self.limit:
            return None
        return now - since

    def run(self) -> None:
        """Watch until stopped; exit the process when training stalls."""
        while not self.stop.wait(min(1.0, self.limit / 4)):
            stalled = self.stalled_for(time.monotonic())
            if stalled is not None:
                logger.error(
                    "watchdog: no training step completed for %.1fs while experiences were "
                    "ready (limit %.1fs); exiting with code %d to be restarted",
                    stalled,
                    self.limit,
                    EXIT_STALLED,
                )
                self.exit_process(EXIT_STALLED)
                return
