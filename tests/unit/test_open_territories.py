"""Open territories: ids are opaque strings of any shape the contract allows, and come and go.

Only the simulator numbers its territories (queen/world.py, producers/game); inference, the
joiner and the trainer take a territory id as an opaque, bounded string and need no count.
"""

import dataclasses

import numpy as np
import pytest

from consumers.joiner.pending import PendingJoin
from queen.world import World, WorldConfig
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import DecisionStatus
from schemas.errors import InvalidRecord
from tests import samples

CODEC = AvroSingleObjectCodec.default()
SHAPES = [
    "t-0001",
    "castle north",
    "领地-東京-42",
    "🏰🐝",
    "a",
    "x" * 128,  # the limit (QUEEN_LIMIT_MAX_ID_LENGTH)
    "match/7f3a:zone#3?q=1&r=2",
    "  spaces  ",
    "tab\tand\nnewline",
    "-",
    "0",
    "t-0001 ",  # one space from another territory: a different territory
]


def test_ids_of_many_shapes_join_decision_and_reward_by_their_exact_id():
    join = PendingJoin()
    decisions = [samples.decision(0, 3, territory_id=s, decided_at=1) for s in SHAPES]
    for i, d in enumerate(decisions):
        d = CODEC.decode(CODEC.encode(d), type(d))  # through the contract, as read
        assert join.add_decision(d, ("d", 0, i), 2) == []
    joined = []
    for i, (s, d) in enumerate(zip(SHAPES, decisions, strict=True)):
        r = samples.reward(
            0,
            3,
            territory_id=s,
            observation_id=d.observation_id,
            decision_id=d.decision_id,
            decision_status=DecisionStatus.APPLIED,
        )
        joined += join.add_reward(CODEC.decode(CODEC.encode(r), type(r)), ("r", 0, i), 3)
    assert [e.decision.territory_id for e in joined] == SHAPES
    assert join.pending_decisions == join.pending_rewards == 0


@pytest.mark.parametrize("bad", ["", "x" * 129, "🏰" * 129])
def test_an_id_beyond_the_contract_is_refused_on_every_record_that_carries_one(bad):
    for record in (samples.observation(), samples.decision(), samples.reward()):
        with pytest.raises(InvalidRecord, match="territory_id"):
            CODEC.encode(dataclasses.replace(record, territory_id=bad))


def test_without_churn_the_territories_stay_the_same():
    world = World(WorldConfig(6, seed=2))
    for _ in range(30):
        world.step(np.full(6, -1), np.zeros(6, dtype=bool))
    assert world.observe().territory.tolist() == list(range(6))


def test_with_churn_matches_end_and_new_territories_start_at_seq_zero():
    world = World(WorldConfig(8, seed=3, match_churn=0.2))
    seen: set[int] = set(world.observe().territory.tolist())
    for _ in range(40):
        before = world.observe()
        result = world.step(np.full(8, 5), np.ones(8, dtype=bool))
        # a tick's reward is the old match's: before and after are the same territories
        assert result.before.territory.tolist() == result.after.territory.tolist()
        assert (result.after.seq == result.before.seq + 1).all()
        now = world.observe()
        new = [t for t in now.territory.tolist() if t not in before.territory.tolist()]
        assert all(t not in seen for t in new), "an id is never reused"
        assert (now.seq[np.isin(now.territory, new)] == 0).all()
        seen |= set(new)
    assert len(seen) > 8 + 20, "matches ended and new territories appeared"
    assert len(world.observe()) == 8


def test_churn_is_validated():
    with pytest.raises(ValueError, match="match_churn"):
        WorldConfig(4, match_churn=1.5)


def test_the_game_rewards_an_ended_match_and_observes_the_new_one():
    from producers.game.handler import GameHandler, GameTopics
    from schemas.records import Observation, Reward

    clock = [0.0]
    handler = GameHandler(
        World(WorldConfig(6, seed=4, match_churn=0.3)),
        GameTopics("obs", "rew"),
        speed=15.0,
        epoch="e1",
        clock=lambda: clock[0],
        wall_us=lambda: 1_700_000_000_000_000,
    )
    observed = [o.record for o in handler.on_tick(0.0)]
    for _ in range(10):
        clock[0] += 1.0
        out = [o.record for o in handler.on_tick(clock[0])]
        rewards = [r for r in out if isinstance(r, Reward)]
        observations = [o for o in out if isinstance(o, Observation)]
        # every reward answers an observation of the tick before, by id and seq
        assert {(r.territory_id, r.seq, r.observation_id) for r in rewards} == {
            (o.territory_id, o.seq, o.observation_id) for o in observed
        }
        for o in observations:
            if o.territory_id not in {p.territory_id for p in observed}:
                assert o.seq == 0, "a new match starts at seq 0"
        observed = observations
    assert len({o.territory_id for o in observed}) == 6
