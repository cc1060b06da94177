import dataclasses

from consumers.joiner.handler import JoinHandler
from consumers.joiner.pending import PendingJoin
from runtime.loop import Incoming
from schemas.enums import DecisionStatus, RewardSource
from tests import samples
from tests.fakes import MessageStub

T = 15_000  # a tick of game time, ms


def decision(territory=1, seq=0):
    return samples.decision(territory, seq, decided_at=1_000_000)


def reward(territory=1, seq=0, **changes):
    fields = dict(decision_status=DecisionStatus.APPLIED)
    fields.update(changes)
    return samples.reward(territory, seq, **fields)


def test_decision_then_reward_and_reward_then_decision_both_join_once():
    join = PendingJoin(reward_timeout_ms=4 * T)
    d1, d2 = decision(1, 0), decision(2, 0)
    assert join.add_decision(d1, ("d", 0, 0), 5_000_000) == []
    (e1,) = join.add_reward(reward(1, 0), ("r", 0, 0), 6_000_000)
    assert join.add_reward(reward(2, 0), ("r", 0, 1), 6_000_000) == []
    (e2,) = join.add_decision(d2, ("d", 0, 1), 7_000_000)
    assert (e1.decision, e2.decision) == (d1, d2)
    assert e1.reward_source is RewardSource.MATCHED and e1.decision_status is DecisionStatus.APPLIED
    assert e1.join_latency_ms == (6_000_000 - 1_000_000) // 1000
    assert join.stats.matched == 2 and join.pending_decisions == join.pending_rewards == 0


def test_duplicates_yield_no_second_experience():
    join = PendingJoin()
    d = decision()
    join.add_decision(d, ("d", 0, 0), 1)
    join.add_decision(d, ("d", 0, 0), 1)
    assert len(join.add_reward(reward(), ("r", 0, 0), 2)) == 1
    assert join.add_decision(d, ("d", 0, 0), 3) == []
    assert join.add_reward(reward(), ("r", 0, 0), 3) == []
    assert join.stats.duplicates == 2 and join.stats.late_rewards == 1


def test_expired_decision_becomes_default_or_is_dropped_by_event_time():
    for default, expected in ((-0.5, 1), (None, 0)):
        join = PendingJoin(reward_timeout_ms=4 * T, default_reward=default)
        old = decision(1, 0)
        join.add_decision(old, ("d", 0, 0), 1)
        join.add_decision(decision(2, 9), ("d", 0, 1), 1)
        join.add_reward(reward(2, 3), ("r", 0, 1), 1)  # watermark: tick 4, not past the timeout
        assert join.expire(2) == []
        join.add_reward(reward(3, 4), ("r", 0, 2), 1)  # watermark: tick 5 > tick 0 + 4 ticks
        out = join.expire(3)
        assert len(out) == expected
        if out:
            assert out[0].reward_source is RewardSource.DEFAULT and out[0].reward == -0.5
            assert out[0].decision_status is DecisionStatus.MISSING
        assert join.stats.defaulted + join.stats.dropped_decisions == 1


def test_orphan_rewards_are_dropped_after_the_timeout():
    join = PendingJoin(reward_timeout_ms=T)
    join.add_decision(decision(9, 9), ("d", 0, 0), 1)
    join.add_reward(reward(1, 0), ("r", 0, 0), 1)
    join.add_reward(reward(2, 5), ("r", 0, 1), 1)
    join.expire(2)
    assert join.stats.orphan_rewards == 1 and join.pending_rewards == 1


def test_watermarks_are_per_partition():
    join = PendingJoin(reward_timeout_ms=T)
    join.add_decision(decision(1, 0), ("d", 0, 0), 1)
    join.add_reward(reward(2, 9), ("r", 1, 0), 1)  # far ahead, but on another partition
    assert join.expire(2) == [] and join.pending_decisions == 1


def test_commit_positions_hold_back_to_the_oldest_pending_record():
    join = PendingJoin()
    handler = JoinHandler(join, "d", "x")
    batch = [
        Incoming(decision(1, 0), MessageStub("d", b"", 0, 10)),
        Incoming(decision(2, 0), MessageStub("d", b"", 0, 11)),
        Incoming(reward(1, 0), MessageStub("r", b"", 0, 40)),
    ]
    out = handler.handle(batch, 1.0)
    assert [o.record.decision.territory_id for o in out] == ["t-0001"]
    assert out[0].topic == "x" and out[0].key == b"t-0001"
    positions = {("d", 0): 12, ("r", 0): 41, ("d", 1): 7}
    assert handler.commit_positions(positions) == {("d", 0): 11, ("r", 0): 41, ("d", 1): 7}
    handler.on_revoke([("d", 0), ("r", 0)])
    assert join.pending_decisions == 0


def test_a_reward_for_another_tick_does_not_join():
    join = PendingJoin()
    join.add_decision(decision(1, 0), ("d", 0, 0), 1)
    assert join.add_reward(dataclasses.replace(reward(1, 1)), ("r", 0, 0), 1) == []


def test_reading_one_topic_far_ahead_of_the_other_expires_nothing():
    """A backlog read decisions-first: their clock runs ahead, the rewards' does not."""
    join = PendingJoin(reward_timeout_ms=4 * T)
    decisions = [decision(1, seq) for seq in range(50)]
    for i, d in enumerate(decisions):
        join.add_decision(d, ("d", 0, i), 1)
    assert join.expire(2) == [] and join.pending_decisions == 50
    joined = [e for seq in range(50) for e in join.add_reward(reward(1, seq), ("r", 0, seq), 3)]
    assert len(joined) == 50 and join.stats.defaulted == 0 and join.stats.late_rewards == 0


def test_joined_keys_are_remembered_for_two_timeouts_of_event_time_then_forgotten():
    join = PendingJoin(reward_timeout_ms=4 * T)
    for seq in range(20):  # decisions and rewards of one territory, tick after tick
        join.add_decision(decision(1, seq), ("d", 0, seq), 1)
        join.add_reward(reward(1, seq), ("r", 0, seq), 1)
        join.expire(1)
    remembered = sorted(seq for _, seq in join.joined)
    newest = max(remembered)
    assert remembered == list(range(newest - 8, newest + 1)), "the last two timeouts (8 ticks)"
    assert join.add_reward(reward(1, newest - 8), ("r", 0, 99), 2) == []  # still a duplicate
