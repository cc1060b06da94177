"""Each service's real handler behind the real service loop, with fakes for Kafka.

`Service.run(messages)` feeds (topic, bytes) messages through ServiceLoop (decode, dead
letters, the handler, its ticks, the commit) in batches, and returns what came out: the
records produced per topic, the dead letters, and the handler's own view of what it took.
Clocks and ids are fixed, so a clean run and a hostile run of the same valid records compare.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from consumers.inference.handler import InferenceHandler
from consumers.inference.model_slot import ModelSlot
from consumers.joiner.handler import JoinHandler
from consumers.joiner.pending import PendingJoin
from producers.game.handler import GameHandler, GameTopics
from queen.model import initial_model
from queen.policy import ExplorationConfig, ExplorationPolicy
from queen.world import World, WorldConfig
from runtime.dead_letter import DeadLetterPublisher
from runtime.handler import Handler
from runtime.loop import LoopConfig, ServiceLoop
from runtime.metrics import LoopMetrics
from schemas.codec import AvroSingleObjectCodec
from schemas.records import DeadLetter, Decision, Experience, Observation, Reward
from tests import keys, samples
from tests.fakes import MessageStub, RecordingProducer, ScriptedConsumer
from trainer.buffer.buffer import make_buffer
from trainer.learner import Learner
from trainer.service import TrainerHandler
from trainer.settings import ContinuousTrainingConfig

CODEC = AvroSingleObjectCodec.default()
NOW_S = samples.GAME_START_MS / 1000 + 60.0  # wall time of the run: near the samples' game time


def tick(record: Any) -> Any:
    """The tick a record claims: (epoch, territory, seq)."""
    inner = getattr(record, "decision", record)
    return (inner.epoch, inner.territory_id, inner.seq)


@dataclass
class Outcome:
    """What a run produced."""

    produced: dict[str, list[Any]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    taken: list[tuple[Any, str]] = field(default_factory=list)  # (tick, decision_id) kept


@dataclass
class Service:
    """A handler factory, the record type of each input topic, and how to read what it kept."""

    name: str
    inputs: dict[str, type]
    make: Callable[[], Handler]
    kept: Callable[[Handler], list[tuple[Any, str]]] = lambda _h: []
    ticks: bool = True
    claim: Callable[[Any], Any] = tick  # what a record claims (a forgery claims a real one's)

    def run(self, messages: Sequence[tuple[str, bytes]], batch: int = 7) -> Outcome:
        """Feed `messages` (topic, value) through the loop, `batch` at a time."""
        handler = self.make()
        stubs = [MessageStub(t, v, 0, i, b"k") for i, (t, v) in enumerate(messages)]
        batches = [stubs[i : i + batch] for i in range(0, len(stubs), batch)]
        producer, consumer = RecordingProducer(), ScriptedConsumer(batches)
        metrics = LoopMetrics.create(CollectorRegistry(), self.name)
        dead = DeadLetterPublisher(producer, "dead", self.name, CODEC, metrics.dead_letters)
        config = LoopConfig(tick_interval=0.0 if self.ticks else 1e9, commit_interval=1e9)
        loop = ServiceLoop(consumer, producer, CODEC, self.inputs, handler, dead, metrics, config)
        loop.clock = lambda: NOW_S
        while consumer.batches:
            loop.run_once()
        loop.run_once()  # one more tick after the last batch
        loop.commit()
        out = Outcome(taken=self.kept(handler))
        for topic, _key, value in producer.produced:
            if topic == "dead":
                out.dead.append(CODEC.decode(value, DeadLetter))
            else:
                out.produced.setdefault(topic, []).append(value)
        return out


def _counter_ids() -> Callable[[int], list[str]]:
    counter = itertools.count()
    return lambda n: [f"decision-{next(counter)}" for _ in range(n)]


def _inference() -> Handler:
    return InferenceHandler(
        ModelSlot(initial_model(0)),
        ExplorationPolicy(ExplorationConfig(epsilon=0.0), seed=0),  # greedy: deterministic
        "decisions",
        wall_us=lambda: int(NOW_S * 1e6),
        new_ids=_counter_ids(),
    )


def _joiner() -> Handler:
    return JoinHandler(
        PendingJoin(reward_timeout_ms=60_000),
        "dec",
        "experiences",
        wall_us=lambda: int(NOW_S * 1e6),
    )


def _trainer() -> Handler:
    config = ContinuousTrainingConfig()
    return TrainerHandler(
        Learner(initial_model(0), config), make_buffer(config), config, "models", keys.signer()
    )


def _game() -> Handler:
    ids = (f"obs-{i}" for i in itertools.count())
    game = GameHandler(
        World(WorldConfig(8, seed=3)),
        GameTopics("observations", "rewards"),
        speed=1.0,
        epoch="e",
        clock=lambda: 0.0,
        wall_us=lambda: int(NOW_S * 1e6),
        new_id=lambda: next(ids),
    )
    game.on_tick(NOW_S)  # the first tick: observations obs-0 .. obs-7, the book opens
    return game


def _game_kept(h: Handler) -> list[tuple[Any, str]]:
    """The decisions the game's book applies: claimed by their observation id."""
    assert isinstance(h, GameHandler) and h.book is not None
    return [(d.observation_id, d.decision_id) for _, d in sorted(h.book.decisions.items())]


def _trainer_kept(h: Handler) -> list[tuple[Any, str]]:
    """The decision ids the trainer took into its buffer, in order: claimed by themselves."""
    assert isinstance(h, TrainerHandler)
    stored = set(h.buffer.storage.decision_id[: len(h.buffer)])
    assert stored >= set(h.taken)
    return [(d, d) for d in h.taken]


SERVICES = {
    "inference": Service("inference", {"obs": Observation}, _inference),
    "joiner": Service("joiner", {"dec": Decision, "rew": Reward}, _joiner),
    "trainer": Service(
        "trainer",
        {"exp": Experience},
        _trainer,
        _trainer_kept,
        ticks=False,
        claim=lambda e: e.decision.decision_id,
    ),
    "game": Service(
        "game", {"dec": Decision}, _game, _game_kept, ticks=False, claim=lambda d: d.observation_id
    ),
}


def valid_inputs(service: str) -> list[tuple[str, Any]]:
    """Valid records for `service`: the traffic that must come out as in a clean run."""
    if service == "inference":
        return [("obs", samples.observation(t, s, epoch="e")) for s in range(3) for t in range(6)]
    if service == "joiner":
        out: list[tuple[str, Any]] = []
        for s in range(3):
            for t in range(6):
                shadow = samples.shadow() if t % 2 else None  # its bytes are mutated too
                d = samples.decision(t, s, epoch="e", shadow=shadow)
                r = samples.reward(
                    t, s, epoch="e", observation_id=d.observation_id, decision_id=d.decision_id
                )
                out += [("dec", d), ("rew", r)]
        return out
    if service == "trainer":
        return [("exp", samples.experience(t, s)) for s in range(3) for t in range(8)]
    return [  # the game: one decision for each observation of its first tick
        ("dec", samples.decision(t, 0, observation_id=f"obs-{t}", epoch="e", shadow=shadow))
        for t, shadow in zip(range(8), [None, samples.shadow()] * 4, strict=True)
    ]
