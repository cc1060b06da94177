"""Faults, done to a live loop from outside, the way an operator (or a node) would.

`FaultRun` starts the whole loop as processes on a real broker (32 territories, two inference
instances, the game at speed 20), then for each fault sends the signal to one service,
restarts it (at once after SIGKILL; once it has exited after SIGTERM, which it must within its
grace period), and measures how long the new process takes to make progress again. When every
fault is done, the game stops, the pipeline drains (the joiner resolves what it holds, the
trainer takes every experience), everything stops, and tests/faults/audit.py reads every topic.
"""

from __future__ import annotations

import dataclasses
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from runtime.kafka import make_producer
from schemas.records import Decision, Experience, ModelVersion
from tests.e2e.harness import LoopHarness
from tests.faults.audit import CODEC, Audit, audit
from tests.integration.kafka_helpers import wait_for

SERVICES = ("game", "inference-2", "joiner", "trainer")
SPEED = "20"  # a tick every 0.75 s of wall time

# The sample each service's progress is read from, after a restart.
PROGRESS = {
    "game": "queen_game_ticks_total",
    "inference-2": "queen_inference_decisions_total",
    "inference": "queen_inference_decisions_total",
    "joiner": "queen_joiner_experiences_total",
    "trainer": "queen_trainer_training_steps_total",
}


@dataclass(frozen=True)
class Fault:
    """One signal to one service."""

    service: str
    signal: signal.Signals

    @property
    def name(self) -> str:
        """e.g. 'trainer SIGKILL'."""
        return f"{self.service} {self.signal.name}"


@dataclass
class Outcome:
    """What one fault did: seconds to stop (SIGTERM), seconds to progress after restart."""

    fault: Fault
    stop_seconds: float
    recovery_seconds: float


@dataclass
class FaultRun:
    """A loop with faults done to it, then audited."""

    bootstrap: str
    workdir: Path
    territories: int = 32
    between: int = 5  # ticks the game plays between two faults
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.loop = LoopHarness(self.bootstrap, self.workdir, territories=self.territories)

    def start(self) -> None:
        """Start every service, then the game; wait for the first trained versions."""
        for name in ("inference", "inference-2", "joiner", "trainer", "promoter"):
            self.loop.start(name)
        wait_for(lambda: all(self.loop.metrics(n) for n in self.loop.processes), 90, "metrics")
        self.loop.start("game", "--speed", SPEED)
        wait_for(lambda: self._progress("trainer") >= 3, 90, "three trained versions")

    def inflict(self, faults: Iterable[Fault]) -> list[Outcome]:
        """Do each fault in turn, the game playing `between` ticks before and after each."""
        for fault in faults:
            self._play(self.between)
            self.outcomes.append(self._inflict(fault))
        self._play(self.between)
        return self.outcomes

    def redecide(self, count: int) -> int:
        """Decide again, as a crashed inference instance does, the latest `count` observations.

        An instance killed after producing decisions but before committing its offsets leaves
        its successor to decide the same observations again: a second decision, with another
        id, for one observation. This writes exactly that, for observations of the running
        tick, so the game and the joiner must each keep one per observation.
        """
        producer = make_producer(self.loop.settings)
        reader = self.loop.reader("decisions")
        wait_for(lambda: len(reader.poll()) >= count, 30, f"{count} decisions")
        recent = [CODEC.decode(m.value(), Decision) for m in reader.poll_all(idle=0.5)[-count:]]
        for d in recent:
            again = dataclasses.replace(d, decision_id=uuid.uuid4().hex)
            producer.produce(
                self.loop.topic("decisions"), CODEC.encode(again), d.territory_id.encode()
            )
        producer.flush(10)
        self._play(self.between)
        return len(recent)

    def _play(self, ticks: int) -> None:
        start = self._progress("game")
        wait_for(lambda: self._progress("game") >= start + ticks, 60, f"{ticks} more ticks")

    def _inflict(self, fault: Fault) -> Outcome:
        process = self.loop.processes[fault.service]
        started = time.monotonic()
        process.send_signal(fault.signal)
        process.wait(60)
        stopped = time.monotonic() - started
        if fault.signal is signal.SIGTERM:
            assert process.returncode == 0, (fault.name, process.returncode)
        self.loop.processes.pop(fault.service)
        restarted = time.monotonic()
        extra = ("--speed", SPEED) if fault.service == "game" else ()
        self.loop.start(fault.service, *extra)
        wait_for(
            lambda: self._progress(fault.service) > 0,
            120,
            f"{fault.service} to make progress after {fault.signal.name}",
        )
        return Outcome(fault, stopped, time.monotonic() - restarted)

    def drain_and_audit(self) -> Audit:
        """Stop the game, let the joiner and the trainer finish, stop everything, audit."""
        game = self.loop.processes.pop("game")
        game.send_signal(signal.SIGTERM)
        assert game.wait(60) == 0, self.loop.log("game")
        wait_for(
            lambda: (
                self._sample("joiner", "queen_joiner_pending_decisions") == 0
                and self._sample("joiner", "queen_joiner_pending_rewards") == 0
            ),
            90,
            "the joiner to resolve everything it holds",
        )
        self._experiences = self.loop.reader("experiences")
        self._versions = self.loop.reader("model-versions")
        wait_for(
            self._all_taken, 90, "the trainer to take every experience into a published version"
        )
        codes = self.loop.stop_all()
        assert all(code == 0 for code in codes.values()), (codes, self._logs())
        return audit(self.loop)

    def _all_taken(self) -> bool:
        """Every experience's decision is in the taken log of some published version."""
        # the joiner has resolved everything and the game is stopped: the topic is complete
        experiences = {
            CODEC.decode(m.value(), Experience).decision.decision_id
            for m in self._experiences.poll_all(idle=1.0)
        }
        published = {
            (v.version, v.created_at)
            for v in (CODEC.decode(m.value(), ModelVersion) for m in self._versions.poll())
        }
        return bool(experiences) and experiences <= set(self.loop.taken(published))

    def _sample(self, service: str, name: str) -> float | None:
        return self.loop.metrics(service).get((name, ()))

    def _progress(self, service: str) -> float:
        name = PROGRESS[service]
        return sum(v for (n, _), v in self.loop.metrics(service).items() if n == name)

    def _logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.loop.log(n)}" for n in (*SERVICES, "inference"))

    def stop(self) -> None:
        """Stop whatever still runs (after a failure)."""
        self.loop.stop_all()


def every_fault() -> list[Fault]:
    """SIGKILL and SIGTERM for each of game, inference (one of two), joiner, trainer."""
    return [Fault(s, sig) for s in SERVICES for sig in (signal.SIGKILL, signal.SIGTERM)]
