"""The trainer's handler: experiences into the buffer; on the interval, a step and a version.

`handle` takes experiences (each decision_id once); `on_tick` trains when the interval has
passed and enough eligible experiences are there, and returns the ModelVersion to publish.
The gate follows the newest rules version seen in the experiences.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Sequence
from typing import IO, Any

from queen.gate import SimulationGate
from queen.rules import RULE_SETS, RULES_V1
from runtime.loop import Incoming, Outgoing
from trainer.buffer.buffer import ReplayBuffer
from trainer.checkpoint import save_checkpoint
from trainer.learner import Learner
from trainer.publisher import model_version
from trainer.settings import ContinuousTrainingConfig

logger = logging.getLogger(__name__)


class TrainerHandler:
    """Fills the replay buffer and trains on a schedule."""

    def __init__(
        self,
        learner: Learner,
        buffer: ReplayBuffer,
        config: ContinuousTrainingConfig,
        model_topic: str,
        metrics: Any = None,
        taken_log: IO[str] | None = None,
        checkpoint_dir: str = "",
    ) -> None:
        """Train `learner` from `buffer`; publish to `model_topic`."""
        self.learner = learner
        self.buffer = buffer
        self.config = config
        self.model_topic = model_topic
        self.metrics = metrics
        self.taken_log = taken_log
        self.rules_version = RULES_V1.version
        self.gate = SimulationGate(RULES_V1)
        self.next_step_at = time.monotonic()
        self.step_times: collections.deque[float] = collections.deque(maxlen=64)
        self.agreements: collections.deque[float] = collections.deque(maxlen=50)
        self.last_published = time.time()
        self.rollbacks_reported = 0
        self.checkpoint_dir = checkpoint_dir
        self.waiting_since: float | None = None  # a batch was ready and no step completed yet

    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing]:
        """Take experiences into the buffer (duplicates by decision_id are ignored)."""
        taken = []
        for item in batch:
            experience = item.record
            if self.buffer.add(experience):
                taken.append(experience.decision.decision_id)
                if experience.decision.rules_version > self.rules_version:
                    self._follow_rules(experience.decision.rules_version)
            elif self.metrics is not None:
                self.metrics.duplicates.inc()
        if self.taken_log is not None and taken:
            self.taken_log.write("".join(f"{d}\n" for d in taken))
            self.taken_log.flush()
        if self.metrics is not None:
            self.metrics.experiences_taken.inc(len(taken))
            self.metrics.buffer_size.set(len(self.buffer))
            self.metrics.experiences_with_rewards.set(self.buffer.completed_count)
            self.metrics.pending_experiences.set(len(self.buffer) - self.buffer.completed_count)
        return []

    def on_tick(self, now: float) -> list[Outgoing]:
        """Train one step when it is time; return the version to publish, if any."""
        clock = time.monotonic()
        if self.metrics is not None:
            self.metrics.version_age_seconds.set(now - self.last_published)
        if clock < self.next_step_at:
            return []
        batch = self.buffer.sample(self.config.batch_size, self.learner.version)
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
        record = model_version(self.config.model_name, self.learner.model, outcome, fresh)
        elapsed = time.perf_counter() - started
        self._account(
            clock,
            elapsed,
            outcome.loss,
            outcome.batch_size,
            outcome.gate_agreement,
            outcome.version,
        )
        self.last_published = now
        self.waiting_since = None
        if self.checkpoint_dir and outcome.version % self.config.checkpoint_every == 0:
            self.checkpoint()
        key = self.config.model_name.encode()
        return [Outgoing(self.model_topic, key, record)]

    def _account(
        self,
        clock: float,
        elapsed: float,
        loss: float,
        batch_size: int,
        agreement: float,
        version: int,
    ) -> None:
        interval = self.config.training_interval
        overrun = elapsed > interval
        # Start the next step one interval after this one began; after an overrun, at once.
        self.next_step_at = clock if overrun else clock + interval
        self.step_times.append(clock)
        self.agreements.append(agreement)
        m = self.metrics
        if m is None:
            return
        m.training_steps.inc()
        m.batches_trained.inc()
        m.batch_size.observe(batch_size)
        m.loss.set(loss)
        m.step_seconds.observe(elapsed)
        m.current_model_version.set(version)
        m.versions_published.inc()
        m.gate_agreement.set(agreement)
        m.gate_agreement_average.set(sum(self.agreements) / len(self.agreements))
        m.utilization.set(min(1.0, elapsed / interval) if interval > 0 else 1.0)
        window = [t for t in self.step_times if t >= clock - 10.0]
        span = clock - window[0] if len(window) > 1 else 0.0
        m.steps_per_second.set((len(window) - 1) / span if span > 0 else 0.0)
        if overrun and interval > 0:
            m.overruns.inc()

    def _report_rollbacks(self) -> None:
        if self.metrics is not None and self.learner.rollbacks > self.rollbacks_reported:
            self.metrics.rollbacks.inc(self.learner.rollbacks - self.rollbacks_reported)
        self.rollbacks_reported = self.learner.rollbacks

    def checkpoint(self) -> None:
        """Write a checkpoint of the learner's current version (if a directory is set)."""
        if self.checkpoint_dir:
            path = save_checkpoint(
                self.checkpoint_dir,
                self.learner.model,
                self.learner.optimizer,
                self.learner.version,
                self.learner.steps,
            )
            logger.info("checkpoint %s", path)

    def _follow_rules(self, version: int) -> None:
        rules = RULE_SETS.get(version)
        if rules is None:
            logger.warning("experiences carry unknown rules version %d; gate unchanged", version)
            return
        self.rules_version = version
        self.gate = self.gate.follow(rules)
        logger.info("gate now follows rules version %d (%s)", version, self.gate.gate_version)
