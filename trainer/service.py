"""The trainer's handler: experiences into the buffer; on the interval, a step and a version.

`handle` takes experiences (each decision_id once; an event time far from its epoch's clock is
refused); `on_tick` trains when the interval has passed and enough eligible experiences are
there, and returns the signed ModelVersion to publish. Each version records how far the
experiences topic had been read (`input_offsets`), and its number is reserved on disk before
it is produced, so a trainer resumed from it takes nothing twice and reuses no number
(trainer/resume.py). The re-validation gate follows the newest rules version seen in the
experiences, with the rule set the rule book learnt from `queen.rules` (runtime/rule_book.py):
a version the book does not know yet is followed as soon as it does (looked at on every tick);
until then the gate stays on the rules it had.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from confluent_kafka import OFFSET_BEGINNING
from typing_extensions import override

from queen.gate import SimulationGate
from queen.rules import RULE_SETS, RULES_V1
from runtime.event_clock import EventClocks, explain
from runtime.handler import Handler, Incoming, Outgoing, Position, Rejected
from runtime.rule_book import RuleBook
from runtime.signing import Signer
from trainer.buffer.buffer import ReplayBuffer
from trainer.checkpoint import reserve_version, save_checkpoint
from trainer.learner import Learner
from trainer.publisher import model_version
from trainer.settings import ContinuousTrainingConfig

logger = logging.getLogger(__name__)


class EventTimeRefused(ValueError):
    """An experience's event time is outside the sane skew of its epoch's clock."""


class TrainerHandler(Handler):
    """Fills the replay buffer and trains on a schedule."""

    def __init__(
        self,
        learner: Learner,
        buffer: ReplayBuffer,
        config: ContinuousTrainingConfig,
        model_topic: str,
        signer: Signer,
        metrics: Any = None,
        taken_log: IO[str] | None = None,
        checkpoint_dir: str = "",
        book: RuleBook | None = None,
    ) -> None:
        """Train `learner` from `buffer`; publish to `model_topic`, signed by `signer`.

        `book` holds the rule sets re-validation simulates (None: the simulator's built-ins).
        """
        self.learner = learner
        self.buffer = buffer
        self.config = config
        self.model_topic = model_topic
        self.signer = signer
        self.metrics = metrics
        self.taken_log = taken_log
        self.checkpoint_dir = checkpoint_dir
        self.book = book if book is not None else RuleBook.of(RULE_SETS)
        # The gate's rules: the simulator's version 1 until the book knows the experiences'.
        self.rules_version = -1
        self.newest_rules_seen = -1
        self.gate = SimulationGate(RULES_V1)
        self.clocks = EventClocks()
        self.wall_us: Callable[[], int] = lambda: time.time_ns() // 1000
        # Where the experiences topic is read from and to: offsets to resume at (set by main),
        # the next offset per partition handled so far, and its topic id.
        self.resume_offsets: dict[int, int] | None = None  # None: not resumed from a version
        self.positions: dict[int, int] = {}
        self._published_positions: dict[int, int] = {}
        self.topic_id = ""
        self.stepped = False  # a version was published by this incarnation
        self.parent_override: int | None = None  # the weights' version, for the first step
        self.taken: list[str] = []  # taken since the last published version
        self.newest_model_version = 0  # of the decisions taken: what inference serves
        self.next_step_at = time.monotonic()
        self.last_published = time.time()
        self.rollbacks_reported = 0
        self.waiting_since: float | None = None  # a batch was ready and no step completed yet
        self._unknown_reported = -1  # the unknown rules version last logged

    def resume_at(self, offsets: dict[int, int] | None, topic_id: str) -> None:
        """Read on from `offsets` (None: not resumed from a version; the group's offsets)."""
        self.topic_id = topic_id
        self.resume_offsets = None if offsets is None else dict(offsets)
        self.positions = dict(offsets or {})
        self._published_positions = dict(offsets or {})

    @override
    def on_assign(self, partitions: Sequence[Position]) -> dict[Position, int]:
        """Start each partition where the resumed version had read to.

        A partition that version had read nothing of starts at its beginning: its committed
        offset may count experiences a crashed incarnation took into no published version.
        """
        if self.resume_offsets is None:
            return {}
        return {(t, p): self.resume_offsets.get(p, OFFSET_BEGINNING) for t, p in partitions}

    @override
    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing | Rejected]:
        """Take experiences into the buffer (duplicates by decision_id are ignored)."""
        out: list[Outgoing | Rejected] = []
        taken = 0
        now_ms = int(now * 1000)
        for item in batch:
            m, d = item.message, item.record.decision
            self.positions[m.partition()] = m.offset() + 1
            refused = self.clocks.refusal(d.epoch, d.event_time, now_ms)
            if refused is not None:
                why = explain(refused, d.event_time, self.clocks.newest.get(d.epoch), now_ms)
                out.append(Rejected(item, EventTimeRefused(why), reason=refused))
                continue
            self.clocks.advance(d.epoch, d.event_time)
            if not self.buffer.add(item.record):
                if self.metrics is not None:
                    self.metrics.duplicates.inc()
                continue
            taken += 1
            self.taken.append(d.decision_id)
            self.newest_model_version = max(self.newest_model_version, d.model_version)
            self.newest_rules_seen = max(self.newest_rules_seen, d.rules_version)
        if self.newest_rules_seen > self.rules_version:
            self._follow_rules(self.newest_rules_seen)
        if self.metrics is not None:
            self.metrics.experiences_taken.inc(taken)
            self.metrics.buffer_size.set(len(self.buffer))
            self.metrics.experiences_with_rewards.set(self.buffer.completed_count)
            self.metrics.pending_experiences.set(len(self.buffer) - self.buffer.completed_count)
        return out

    @override
    def on_tick(self, now: float) -> list[Outgoing]:
        """Train one step when it is time; return the version to publish, if any."""
        clock = time.monotonic()
        if self.newest_rules_seen > self.rules_version:
            self._follow_rules(self.newest_rules_seen)
        if self.metrics is not None:
            self.metrics.version_age_seconds.set(now - self.last_published)
        if clock < self.next_step_at:
            return []
        rows = self.config.batch_size * self.config.updates_per_step  # one update per batch_size
        batch = self.buffer.sample(rows, self.newest_model_version)
        if batch is None:
            self.waiting_since = None
            return []
        if self.waiting_since is None:
            self.waiting_since = clock
        started = time.perf_counter()
        outcome = self.learner.step(batch, self.gate)
        if outcome is None:
            self._report_rollbacks()
            self.next_step_at = clock + self.config.training_interval
            return []
        if self.config.priority_sampling:
            self.buffer.update_priorities(outcome.indices, outcome.errors)
        fresh = self.buffer.first_use(outcome.indices)
        if self.checkpoint_dir:
            reserve_version(self.checkpoint_dir, outcome.version)
        created_at = self.wall_us()
        record = model_version(
            self.config.model_name,
            self.learner.model,
            outcome,
            self.signer,
            fresh,
            (self.topic_id, dict(self.positions)),
            self.parent_override,
            created_at,
        )
        self.parent_override = None
        self.stepped = True
        self._published_positions = dict(self.positions)
        self._log_taken(outcome.version, created_at)
        elapsed = time.perf_counter() - started
        interval = self.config.training_interval
        # Start the next step one interval after this one began; after an overrun, at once.
        self.next_step_at = clock if elapsed > interval else clock + interval
        if self.metrics is not None:
            self.metrics.step(
                elapsed,
                interval,
                outcome.loss,
                outcome.batch_size,
                outcome.gate_agreement,
                outcome.version,
            )
        self.last_published = now
        self.waiting_since = None
        if self.checkpoint_dir and outcome.version % self.config.checkpoint_every == 0:
            self.checkpoint()
        return [Outgoing(self.model_topic, self.config.model_name.encode(), record)]

    def _log_taken(self, version: int, created_at: int) -> None:
        """Write what this version took first (test hook): "version created_at decision_id"."""
        if self.taken_log is not None and self.taken:
            self.taken_log.write("".join(f"{version} {created_at} {d}\n" for d in self.taken))
            self.taken_log.flush()
        self.taken.clear()

    def _report_rollbacks(self) -> None:
        if self.metrics is not None and self.learner.rollbacks > self.rollbacks_reported:
            self.metrics.rollbacks.inc(self.learner.rollbacks - self.rollbacks_reported)
        self.rollbacks_reported = self.learner.rollbacks

    def checkpoint(self) -> None:
        """Write a checkpoint of the learner's current version (if a directory is set).

        Its offsets are those of the last published version: experiences taken since are not
        in these weights' history, and are read again by a trainer resumed from here.
        """
        if not self.checkpoint_dir or not self.stepped:
            return  # nothing new: the state resumed from is on disk or on the topic already
        path = save_checkpoint(
            self.checkpoint_dir,
            self.learner.model,
            self.learner.optimizer,
            self.learner.version,
            self.learner.steps,
            input_topic_id=self.topic_id,
            input_offsets=self.published_positions,
        )
        logger.info("checkpoint %s", path)

    @property
    def published_positions(self) -> dict[int, int]:
        """Offsets the last published version recorded (what its weights were trained up to)."""
        return dict(self._published_positions)

    def _follow_rules(self, version: int) -> None:
        rules = self.book.get(version)
        if rules is None:
            if version != self._unknown_reported:
                self._unknown_reported = version
                logger.warning(
                    "experiences carry rules version %d, not in the rule book yet; the gate "
                    "stays on version %d until it is",
                    version,
                    self.rules_version,
                )
            return
        self.rules_version = version
        self.gate = self.gate.follow(rules)
        logger.info("gate now follows rules version %d (%s)", version, self.gate.gate_version)
