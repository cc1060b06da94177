"""The game's decision book and its handler on a fixed clock: one decision per observation."""

import itertools

from producers.game.book import DecisionBook
from producers.game.handler import GameHandler, GameTopics
from queen.world import World, WorldConfig
from runtime.handler import Incoming
from schemas.enums import DecisionStatus, GateDecision, SpawnType
from schemas.records import Action, Observation, Reward
from tests import samples
from tests.fakes import MessageStub


def test_the_book_applies_the_first_decision_answering_each_observation():
    book = DecisionBook(["o0", "o1", "o2", "o3"], frozenset({"old"}))
    send = samples.decision(0, 5, observation_id="o0", action=Action(2, SpawnType.GUARD))
    wait = samples.decision(1, 5, observation_id="o1", gate_decision=GateDecision.WAIT)
    book.offer(send)
    book.offer(wait)
    book.offer(samples.decision(0, 5, observation_id="o0"))  # a second one for o0
    book.offer(samples.decision(2, 4, observation_id="old"))  # made for an earlier tick: late
    book.offer(samples.decision(2, 5, observation_id="elsewhere"))  # no observation of ours
    action, apply = book.actions()
    assert action.tolist() == [2 * 4 + 3, 3 * 4 + 1, -1, -1]  # (chunk, type) joint indices
    assert apply.tolist() == [True, False, False, False]
    assert book.status(0) == (send.decision_id, DecisionStatus.APPLIED)
    assert book.status(1) == (wait.decision_id, DecisionStatus.WAITED)
    assert book.status(2) == (None, DecisionStatus.MISSING)
    assert (book.late, book.duplicates, book.unknown) == (1, 1, 1)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def game(ticks=None, epoch="e1"):
    clock = Clock()
    ids = (f"obs-{i}" for i in itertools.count())
    handler = GameHandler(
        World(WorldConfig(3, seed=1)),
        GameTopics("obs", "rew"),
        speed=15.0,  # a tick every wall second
        epoch=epoch,
        clock=clock,
        wall_us=lambda: 1_700_000_000_000_000,
        new_id=lambda: next(ids),
        ticks=ticks,
    )
    return handler, clock


def decide(observation: Observation, **changes) -> Incoming:
    d = samples.decision(
        0,
        observation.seq,
        observation_id=observation.observation_id,
        territory_id=observation.territory_id,
        **changes,
    )
    return Incoming(d, MessageStub("dec", b""))


def test_a_tick_emits_rewards_naming_the_observation_and_the_decision_acted_on():
    handler, clock = game()
    first = [o.record for o in handler.on_tick(0.0)]
    assert [o.seq for o in first] == [0, 0, 0] and {o.epoch for o in first} == {"e1"}
    applied = decide(first[0])
    duplicate = decide(first[0])
    handler.handle([applied, duplicate, decide(first[1], gate_decision=GateDecision.WAIT)], 0.0)
    assert handler.on_tick(0.0) == [], "the tick is not over before its wall time"
    clock.now = 1.0
    out = [o.record for o in handler.on_tick(0.0)]
    rewards = [r for r in out if isinstance(r, Reward)]
    following = [o for o in out if isinstance(o, Observation)]
    assert [(r.observation_id, r.epoch, r.seq) for r in rewards] == [
        (o.observation_id, "e1", 0) for o in first
    ]
    assert [r.decision_status for r in rewards] == [
        DecisionStatus.APPLIED,
        DecisionStatus.WAITED,
        DecisionStatus.MISSING,
    ]
    assert rewards[0].decision_id == applied.record.decision_id
    assert [o.seq for o in following] == [1, 1, 1]
    assert {o.observation_id for o in following}.isdisjoint(o.observation_id for o in first)


def test_a_decision_for_the_previous_tick_is_late_and_not_applied():
    handler, clock = game()
    first = [o.record for o in handler.on_tick(0.0)]
    clock.now = 1.0
    handler.on_tick(0.0)
    handler.handle([decide(first[0])], 0.0)  # tick 0 is over
    clock.now = 2.0
    rewards = [o.record for o in handler.on_tick(0.0) if isinstance(o.record, Reward)]
    assert all(r.decision_status is DecisionStatus.MISSING for r in rewards)
    assert handler.book is not None and handler.played == 2


def test_the_game_stops_after_its_tick_budget():
    done = []
    handler, clock = game(ticks=2)
    handler.on_done = lambda: done.append(True)
    handler.on_tick(0.0)
    for t in (1.0, 2.0, 3.0, 4.0):
        clock.now = t
        handler.on_tick(0.0)
    assert handler.played == 2 and done == [True]
