"""The contract between a service's handler and the service loop.

A handler is pure: it takes decoded records (and the time) and returns what to emit; the loop
owns every Kafka call. Every handler subclasses `Handler` and overrides the hooks it needs;
each hook has a safe default, and a method named like a hook that is not one (a misspelt
`on_tic`, `commit_position`) is refused when the class is defined, so a typo cannot silently
drop a hook the service's crash safety depends on.

The hooks, in the order the loop calls them:

    on_assign(partitions)        -> {position: offset}   where to start reading (default: the
                                                         group's committed offsets)
    handle(batch, now)           -> Outgoing | Rejected  the records of one poll
    on_tick(now)                 -> Outgoing             time-driven output (timeouts, training)
    commit_positions(positions)  -> positions            lower what is committed (records the
                                                         handler still holds stay re-readable)
    on_revoke(partitions)                                forget partitions another instance owns

`handle` may raise: the loop then splits the batch until the record(s) that raise are isolated
and dead-lettered (PROCESSING_ERROR), and runs the rest once. A handler whose state changes
record by record therefore converts each record's failure itself (`RecordHandler` does), so a
batch is never half applied and then replayed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.enums import ErrorKind

logger = logging.getLogger(__name__)

Position = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A decoded record and the message it came from."""

    record: Any
    message: Any


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to produce."""

    topic: str
    key: bytes
    record: Any


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input the handler refuses; it goes to the dead-letter topic with `error`.

    `reason` is a short label for the rejections metric (e.g. "event_time_ahead").
    """

    incoming: Incoming
    error: Exception
    kind: ErrorKind = ErrorKind.INVALID_EVENT
    reason: str = "invalid_event"


HOOKS = frozenset(
    {"handle", "handle_record", "on_tick", "commit_positions", "on_assign", "on_revoke"}
)
_HOOK_PREFIXES = ("on_", "handle", "commit_")


class Handler:
    """Base of every service's handler: the hooks the loop calls, with their defaults."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse methods that look like hooks but are not (e.g. a misspelt `on_tik`)."""
        super().__init_subclass__(**kwargs)
        for name, member in vars(cls).items():
            if inspect.isfunction(member) and name.startswith(_HOOK_PREFIXES) and name not in HOOKS:
                msg = f"{cls.__name__}.{name} looks like a loop hook but is none of {sorted(HOOKS)}"
                raise TypeError(msg)

    def handle(self, batch: Sequence[Incoming], now: float) -> Iterable[Outgoing | Rejected]:
        """Return what to emit for a batch of decoded records (`now`: wall seconds)."""
        raise NotImplementedError

    def on_tick(self, now: float) -> Iterable[Outgoing]:
        """Return time-driven output; called every tick_interval."""
        return ()

    def commit_positions(self, positions: dict[Position, int]) -> dict[Position, int]:
        """Return the offsets to commit; lower one to keep records held here re-readable."""
        return positions

    def on_assign(self, partitions: Sequence[Position]) -> dict[Position, int]:
        """Return start offsets for some of the partitions just assigned (others: committed)."""
        return {}

    def on_revoke(self, partitions: Sequence[Position]) -> None:
        """Forget the state of partitions this instance no longer owns."""


class RecordHandler(Handler):
    """A handler that takes records one at a time; a record that raises becomes a dead letter.

    Subclasses implement `handle_record`; the state changes of one record are its own, so the
    batch around a failing record is processed exactly once.
    """

    def handle_record(self, item: Incoming, now: float) -> Iterable[Outgoing | Rejected]:
        """Return what to emit for one record."""
        raise NotImplementedError

    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing | Rejected]:
        """Handle each record; an exception rejects that record only (PROCESSING_ERROR)."""
        out: list[Outgoing | Rejected] = []
        for item in batch:
            try:
                out.extend(self.handle_record(item, now))
            except Exception as exc:  # a record must never stop the service
                logger.debug("record failed in %s", type(self).__name__, exc_info=True)
                out.append(Rejected(item, exc, ErrorKind.PROCESSING_ERROR, "processing_error"))
        return out
