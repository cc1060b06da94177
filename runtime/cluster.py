"""Knowing when the cluster lost its data: a watch over the topics a service uses.

A broker that restarts with its data (a rolling restart of Kafka) is ridden out by the clients.
A cluster that comes back *empty* (the embedded broker restarted, a topic deleted and created
again) is not: consumer positions, committed offsets, the joiner's held records and the
trainer's resume offsets all point into data that no longer exists, and the clients do not say
so (measured on Tansu: no error, no records, flat counters). So every service notes at start
the topic id (KIP-516) and partition count of each topic it uses, and a background thread
checks them every few seconds. A topic gone, re-created (new id) or re-partitioned, or a
cluster unreachable for longer than a bound, ends the process with one clear log line and exit
code 4, without committing anything: its supervisor (Kubernetes, make run) restarts it, and
the new process starts clean on the new data.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, TopicCollection

from runtime.errors import RuntimeFailure

logger = logging.getLogger(__name__)

EXIT_CLUSTER_LOST = 4


class StartupError(RuntimeFailure):
    """The service cannot start: the cluster does not answer, or a topic it needs is missing."""


class ClusterChanged(RuntimeFailure):
    """A topic the service uses was deleted, re-created or re-partitioned."""


class Unreachable(RuntimeFailure):
    """The cluster did not answer in time."""


@dataclass(frozen=True)
class TopicState:
    """What identifies a topic's data: its id and its partition count."""

    topic_id: str
    partitions: int


def describe(admin: object, topics: Sequence[str], timeout: float) -> dict[str, TopicState]:
    """Return each topic's state.

    Raises:
        ClusterChanged: a topic does not exist.
        Unreachable: the cluster did not answer within `timeout` seconds.
    """
    try:
        futures = admin.describe_topics(  # type: ignore[attr-defined]
            TopicCollection(list(topics)), request_timeout=timeout
        )
    except KafkaException as exc:
        raise Unreachable(_text(exc)) from None
    states = {}
    for name, future in futures.items():
        try:
            description = future.result(timeout)
        except TimeoutError:
            raise Unreachable(f"no answer within {timeout:g}s") from None
        except KafkaException as exc:
            if exc.args and exc.args[0].code() in (3, 100):  # UNKNOWN_TOPIC_OR_PART, _ID
                raise ClusterChanged(f"topic {name} does not exist") from None
            raise Unreachable(_text(exc)) from None
        states[name] = TopicState(str(description.topic_id), len(description.partitions))
    return states


def _text(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return str(error.str()) if isinstance(error, KafkaError) else str(exc)


def changes(before: dict[str, TopicState], now: dict[str, TopicState]) -> list[str]:
    """Describe how `now` differs from `before` (empty when the data is the same)."""
    found = []
    for name, state in before.items():
        current = now.get(name)
        if current is None:
            found.append(f"topic {name} is gone")
        elif current.topic_id != state.topic_id:
            found.append(f"topic {name} was re-created (id {state.topic_id} -> {current.topic_id})")
        elif current.partitions != state.partitions:
            found.append(
                f"topic {name} has {current.partitions} partitions, had {state.partitions}"
            )
    return found


def _exit_lost(reason: str) -> None:
    logger.error("%s: exiting (code %d) to restart clean", reason, EXIT_CLUSTER_LOST)
    logging.shutdown()
    os._exit(EXIT_CLUSTER_LOST)


class ClusterWatch(threading.Thread):
    """Checks the service's topics every `interval` seconds; calls `on_lost` when they change."""

    def __init__(
        self,
        admin: object,
        topics: Sequence[str],
        bootstrap: str,
        interval: float = 5.0,
        unreachable_limit: float = 60.0,
        on_lost: Callable[[str], None] = _exit_lost,
    ) -> None:
        """Watch `topics` through `admin`; `bootstrap` names the cluster in messages."""
        super().__init__(name="cluster-watch", daemon=True)
        self.admin = admin
        self.topics = list(topics)
        self.bootstrap = bootstrap
        self.interval = interval
        self.unreachable_limit = unreachable_limit
        self.on_lost = on_lost
        self.states: dict[str, TopicState] = {}
        self._stop = threading.Event()

    def snapshot(self, timeout: float = 5.0) -> dict[str, TopicState]:
        """Note the topics' states at start; StartupError when they cannot be read."""
        try:
            self.states = describe(self.admin, self.topics, timeout)
        except ClusterChanged as exc:
            msg = f"{exc} at KAFKA_BOOTSTRAP_SERVERS={self.bootstrap!r}: create the topics "
            raise StartupError(msg + "first (python -m runtime.topics)") from None
        except Unreachable as exc:
            msg = f"cannot reach Kafka at KAFKA_BOOTSTRAP_SERVERS={self.bootstrap!r}: {exc}"
            raise StartupError(msg) from None
        return self.states

    def topic_id(self, topic: str) -> str:
        """The id `topic` had at start."""
        return self.states[topic].topic_id

    def check(self) -> str | None:
        """Return why the cluster's data changed, or None; raise Unreachable if it is."""
        try:
            now = describe(self.admin, self.topics, min(self.interval, 10.0))
        except ClusterChanged as exc:
            return str(exc)
        found = changes(self.states, now)
        return "; ".join(found) if found else None

    def run(self) -> None:
        """Check until stopped; report a change, or a cluster unreachable for too long."""
        reachable_at = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                reason = self.check()
            except Unreachable as exc:
                down = time.monotonic() - reachable_at
                if down > self.unreachable_limit:
                    self.on_lost(
                        f"the cluster at KAFKA_BOOTSTRAP_SERVERS={self.bootstrap!r} has not "
                        f"answered for {down:.0f}s ({exc})"
                    )
                    return
                continue
            reachable_at = time.monotonic()
            if reason is not None:
                self.on_lost(f"the cluster lost this service's data: {reason}")
                return

    def stop(self) -> None:
        """End the watch (tests, and a service's clean shutdown)."""
        self._stop.set()
