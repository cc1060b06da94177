"""Logging configured once, by a service's main; and a rate limit for lines that repeat.

`configure_logging` sends every logger's records to stderr with time, service and logger
name. `RateLimit` lets a caller log a line about a recurring condition (a rejected version,
an unreachable broker) at most once per interval, saying how many were suppressed; the
librdkafka logger gets the same treatment (`Throttle`), so an unreachable broker is one line
every few seconds, not hundreds.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import time
from collections.abc import Callable

from runtime.version import VERSION

LIBRDKAFKA_LOGGER = "librdkafka"
CONTEXT = ("topic", "partition", "offset", "model_version", "epoch")  # extra= fields kept


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, version, logger, message, context."""

    def __init__(self, service: str) -> None:
        """Label every line with `service`."""
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (exceptions as a string under "exception")."""
        line: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "version": VERSION,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO", fmt: str = "text") -> None:
    """Send every logger's records to stderr: plain text, or JSON lines (`fmt="json"`)."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if fmt == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter(service))
    logging.getLogger(LIBRDKAFKA_LOGGER).addFilter(Throttle())


class RateLimit:
    """Allows one event per `interval` seconds per key; counts the ones it holds back."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        """Allow a key again `interval` seconds after it was last allowed."""
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """Return how many events of `key` were held back since the last one, or None to hold."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._last) > 1000:  # keys are few (reasons, error codes); never grow unbounded
            self._last.clear()
        self._last[key] = now
        return self._held.pop(key, 0)


_DIGITS = re.compile(r"\d+")


class Throttle(logging.Filter):
    """A logging filter passing each distinct message (digits ignored) once per interval."""

    def __init__(self, interval: float = 10.0) -> None:
        """Pass a message again `interval` seconds after it last passed."""
        super().__init__()
        self.limit = RateLimit(interval)

    def filter(self, record: logging.LogRecord) -> bool:
        """True to log `record`; a passed line says how many like it were held back."""
        key = f"{record.levelno}:{_DIGITS.sub('#', record.getMessage())[:120]}"
        held = self.limit.allow(key)
        if held is None:
            return False
        if held:
            record.msg = f"{record.getMessage()} ({held} similar lines suppressed)"
            record.args = None
        return True
