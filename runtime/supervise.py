"""`make run`'s supervisor: every service restarted with backoff, like Kubernetes would.

A service that exits (a crash, the watchdog, a lost cluster) is started again after a backoff
that doubles from 1 s up to 30 s and resets once it has run for a minute; every restart is
counted and shown in the view with the exit code that caused it. The embedded broker is
watched too: when it dies (or stops answering), it is started again on the same port, the
topics are created again, and the services, which notice that their topics were re-created,
exit and are restarted onto the new data.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.broker import EmbeddedBroker, answers

logger = logging.getLogger("run")

BACKOFF_MIN, BACKOFF_MAX, STABLE_AFTER = 1.0, 30.0, 60.0


@dataclass
class Child:
    """One supervised service process."""

    name: str
    module: str
    env: dict[str, str]
    log_path: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_exit: int | None = None
    started_at: float = 0.0
    next_start: float = 0.0
    backoff: float = BACKOFF_MIN

    def start(self) -> None:
        """Start the process, its output appended to its log file."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.started_at = time.monotonic()

    def state(self) -> str:
        """'running', 'restarting', or 'exited N'; with the restart count."""
        code = None if self.process is None else self.process.poll()
        if code is None and self.process is not None:
            text = "running"
        elif self.next_start:
            text = "restarting"
        else:
            text = f"exited {code}"
        if self.restarts:
            text += f" (restarts {self.restarts}, last exit {self.last_exit})"
        return text


@dataclass
class Supervisor:
    """Keeps the children (and the embedded broker, if it owns one) running."""

    children: list[Child]
    broker: EmbeddedBroker | None = None
    recreate_topics: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    broker_restarts: int = 0
    events: list[str] = field(default_factory=list)  # the last five, for the view
    events_seen: list[str] = field(default_factory=list)  # all of them

    def start_all(self) -> None:
        """Start every child."""
        for child in self.children:
            child.start()

    def check(self) -> None:
        """Restart the broker if it died, and every child that exited, after its backoff."""
        if self.broker is not None and not self._broker_alive():
            self._restart_broker()
        now = self.clock()
        for child in self.children:
            process = child.process
            if process is not None and process.poll() is None:
                if now - child.started_at > STABLE_AFTER:
                    child.backoff = BACKOFF_MIN
                continue
            if child.next_start == 0.0:
                child.last_exit = None if process is None else process.returncode
                child.next_start = now + child.backoff
                self._event(
                    f"{child.name} exited {child.last_exit}; restart in {child.backoff:.0f}s"
                )
                child.backoff = min(BACKOFF_MAX, child.backoff * 2)
            elif now >= child.next_start:
                child.next_start = 0.0
                child.restarts += 1
                child.start()

    def _broker_alive(self) -> bool:
        assert self.broker is not None
        process = self.broker.process
        return (
            process is not None
            and process.poll() is None
            and answers(self.broker.bootstrap_servers, timeout=1.0)
        )

    def _restart_broker(self) -> None:
        assert self.broker is not None
        self._event(f"the embedded broker at {self.broker.bootstrap_servers} died: restarting it")
        self.broker.stop(grace=1.0)
        self.broker.start()
        self.recreate_topics()
        self.broker_restarts += 1
        self._event("broker back, topics created again; services restart onto the new data")

    def _event(self, text: str) -> None:
        logger.warning("%s", text)
        line = f"{time.strftime('%H:%M:%S')} {text}"
        self.events = [*self.events[-4:], line]
        self.events_seen.append(line)

    def stop_all(self, grace: float = 25.0) -> None:
        """SIGTERM every child, wait up to `grace` seconds, SIGKILL what is left."""
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0fs: killing it", child.name, grace)
                child.process.kill()
                child.process.wait()

    def failed(self) -> list[Child]:
        """Children whose last run ended with an error (SIGTERM's code counts as clean)."""
        return [
            c
            for c in self.children
            if c.process is not None and c.process.returncode not in (0, -signal.SIGTERM)
        ]


def child_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a child: `base` plus `extra`, with the venv's Python first on PATH."""
    env = dict(base, **extra)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env
