"""The rule book: every rule set published on `queen.rules`, learnt at run time.

A game patch is data, not a release: the game (or a game team's tool, `python -m
producers.rules`) publishes a RuleSet keyed by its rules version, and inference's gate and the
trainer's re-validation load it from here. A background thread follows the topic from the
beginning with no group (every process reads it whole, like the model-versions reader). Rule
sets are immutable per version: the first valid one read for a version is kept; a different
one for the same version is refused (reason `conflict`), counted, logged and dead-lettered,
so a later record cannot rewrite the rules the gate uses for live traffic. Bytes that do not
decode, a key that is not the record's version, and (with trusted rule keys set,
runtime/rule_signing.py) a rule set not signed by one of them are refused the same way;
nothing a record holds ends the thread. The known rules are an immutable snapshot swapped by
one reference assignment: readers never lock and never see half an update.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from queen.rules import RuleSet
from runtime.logs import RateLimit
from runtime.metrics import Bound
from runtime.rule_signing import verify_rules
from runtime.signing import SignatureError, Verifier
from runtime.tail import TopicFollower
from schemas.codec import Codec
from schemas.enums import ErrorKind
from schemas.errors import SchemaError
from schemas.records import RuleSet as RuleSetRecord

logger = logging.getLogger(__name__)

REASONS = ("undecodable", "key", "conflict", "unsigned", "unknown_key", "bad_signature")


class RuleRejection(Exception):
    """A rule set refused; `reason` is one of REASONS, `kind` its dead letter's ErrorKind."""

    def __init__(
        self, reason: str, message: str, kind: ErrorKind = ErrorKind.INVALID_EVENT
    ) -> None:
        """Keep the reason and the dead-letter kind beside the message."""
        super().__init__(message)
        self.reason = reason
        self.kind = kind


def rules_of(record: RuleSetRecord) -> RuleSet:
    """The domain's RuleSet of a (validated) RuleSet record."""

    def four(values: tuple[float, ...]) -> tuple[float, float, float, float]:
        a, b, c, d = (float(v) for v in values)
        return (a, b, c, d)

    return RuleSet(
        version=record.rules_version,
        cost=four(record.cost),
        upkeep=four(record.upkeep),
        kill=four(record.kill),
        harvest=four(record.harvest),
        income=four(record.income),
        heal=four(record.heal),
    )


def record_of(rules: RuleSet, publisher: str, published_at: int, note: str = "") -> RuleSetRecord:
    """The RuleSet record publishing `rules` (what the game and the CLI write)."""
    return RuleSetRecord(
        rules_version=rules.version,
        published_at=published_at,
        publisher=publisher,
        note=note,
        cost=rules.cost,
        upkeep=rules.upkeep,
        kill=rules.kill,
        harvest=rules.harvest,
        income=rules.income,
        heal=rules.heal,
    )


def rules_key(version: int) -> bytes:
    """The record key of a rules version on `queen.rules`: its decimal digits."""
    return str(version).encode()


@dataclass(frozen=True)
class Known:
    """What the book knows at one moment (never mutated; replaced whole)."""

    rules: Mapping[int, RuleSet] = field(default_factory=lambda: MappingProxyType({}))
    records: Mapping[int, RuleSetRecord] = field(default_factory=lambda: MappingProxyType({}))
    learnt_at: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def newest(self) -> RuleSet | None:
        """The rule set of the highest version known (not the last one read), or None."""
        return self.rules[max(self.rules)] if self.rules else None


@dataclass(frozen=True)
class RuleBookMetrics:
    """What a rule book counts (shared names, labelled by service)."""

    known: Any
    refused: Any

    @classmethod
    def create(cls, registry: CollectorRegistry, service: str) -> RuleBookMetrics:
        """Register on `registry` for `service`."""
        known = Gauge("queen_rules_known", "Rule sets known", ["service"], registry=registry)
        refused = Counter(
            "queen_rules_refused",
            "Rule sets read from queen.rules and refused, by reason",
            ["service", "reason"],
            registry=registry,
        )
        for reason in REASONS:
            refused.labels(service=service, reason=reason)
        return cls(known.labels(service=service), Bound(refused, service))


class RuleBook:
    """The rule sets known, by version; `offer` learns one (the first valid one wins)."""

    def __init__(
        self,
        metrics: RuleBookMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        verifier: Verifier | None = None,
    ) -> None:
        """Start empty (a fresh process learns everything from the topic).

        With `verifier`, only rule sets signed by one of its keys are learnt
        (runtime/rule_signing.py); without, unsigned ones are too.
        """
        self.known = Known()
        self.verifier = verifier
        self.metrics = metrics
        self.clock = clock
        self._changed = threading.Condition()
        self._log_limit = RateLimit(10.0)

    @classmethod
    def of(cls, rule_sets: Mapping[int, RuleSet]) -> RuleBook:
        """A book that knows `rule_sets` already (tests, tools, the simulator's built-ins)."""
        book = cls()
        for rules in rule_sets.values():
            book.offer(record_of(rules, "built-in", 0))
        return book

    def get(self, version: int) -> RuleSet | None:
        """The rule set of `version`, or None while it is not known."""
        return self.known.rules.get(version)

    def offer(self, record: RuleSetRecord) -> bool:
        """Learn `record`; True when it is new, False when the same rules are known already.

        Raises RuleRejection("conflict") when the version is known with other rules.
        """
        known = self.known
        held = known.records.get(record.rules_version)
        if held is not None:
            if held.same_rules(record):
                return False
            msg = (
                f"rules version {record.rules_version} is known already (published by "
                f"{held.publisher!r} at {held.published_at}); a different rule set for it "
                f"(by {record.publisher!r}) is refused: rule sets are immutable per version"
            )
            raise RuleRejection("conflict", msg)
        version = record.rules_version
        self.known = Known(  # one reference assignment: readers see all of it or none
            MappingProxyType({**known.rules, version: rules_of(record)}),
            MappingProxyType({**known.records, version: record}),
            MappingProxyType({**known.learnt_at, version: self.clock()}),
        )
        if self.metrics is not None:
            self.metrics.known.set(len(self.known.rules))
        logger.info("rules version %d learnt (published by %r)", version, record.publisher)
        with self._changed:
            self._changed.notify_all()
        return True

    def wait_for(self, version: int, timeout: float) -> bool:
        """Wait up to `timeout` seconds for `version` to be known; return whether it is."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while version not in self.known.rules:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def reject(self, rejection: RuleRejection) -> None:
        """Count a refused rule set by reason; log it (at most once per 10 s per reason)."""
        if self.metrics is not None:
            self.metrics.refused.labels(reason=rejection.reason).inc()
        held = self._log_limit.allow(rejection.reason)
        if held is not None:
            logger.warning(
                "rule set refused (%s): %s (%d more held back)", rejection.reason, rejection, held
            )

    def read(self, message: Any, codec: Codec) -> RuleRejection | None:
        """Learn the rule set one raw message holds; return the rejection, if refused."""
        try:
            record = codec.decode(message.value() or b"", RuleSetRecord)
        except SchemaError as exc:
            return RuleRejection("undecodable", f"{type(exc).__name__}: {exc}", exc.kind)
        if message.key() != rules_key(record.rules_version):
            shown = message.key()[:40] if message.key() is not None else None
            msg = f"key {shown!r} is not rules version {record.rules_version}'s"
            return RuleRejection("key", msg)
        if self.verifier is not None:
            try:
                verify_rules(self.verifier, record)
            except SignatureError as exc:
                return RuleRejection(exc.reason, str(exc))
        try:
            self.offer(record)
        except RuleRejection as exc:
            return exc
        return None


class RuleReader(TopicFollower):
    """Follows `queen.rules` from the beginning and teaches the book every valid rule set."""

    def __init__(
        self,
        consumer: Any,
        topic: str,
        book: RuleBook,
        codec: Codec,
        stop: threading.Event,
        dead_letters: Any = None,
    ) -> None:
        """Read `topic` with `consumer` (not in a group) until `stop` is set."""
        super().__init__(consumer, topic, stop, "rules-reader")
        self.book = book
        self.codec = codec
        self.dead_letters = dead_letters

    def read_once(self, timeout: float = 0.1) -> int:
        """Read one batch; return how many of its records were refused."""
        refused = 0
        for message in self.consumer.consume(100, timeout):
            if message.error() is not None:
                continue
            rejection = self.book.read(message, self.codec)
            if rejection is None:
                continue
            refused += 1
            self.book.reject(rejection)
            if self.dead_letters is not None:
                self.dead_letters.publish(message, rejection, rejection.kind)
        return refused
