import dataclasses

from prometheus_client import CollectorRegistry

from consumers.joiner.handler import JoinHandler
from consumers.joiner.metrics import JoinerMetrics
from consumers.joiner.pending import JoinLimits, PendingJoin
from runtime.handler import Incoming, Outgoing, Rejected
from schemas.enums import DecisionStatus, RewardSource
from tests import samples
from tests.fakes import MessageStub

T = 15_000  # a tick of game time, ms
NOW = samples.GAME_START_MS / 1000  # wall seconds near the samples' game time


def decision(territory=1, seq=0, **changes):
    return samples.decision(territory, seq, decided_at=1_000_000, **changes)


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


def test_of_two_decisions_for_one_observation_the_one_the_reward_names_is_joined():
    """Inference re-decided an observation after a restart: the game applied the second."""
    join = PendingJoin()
    first = decision(1, 0, observation_id="o-1")
    second = decision(1, 0, observation_id="o-1")
    named = reward(1, 0, observation_id="o-1", decision_id=second.decision_id)
    assert join.add_reward(named, ("r", 0, 0), 1) == []
    assert join.add_decision(first, ("d", 0, 0), 2) == [], "the reward waits for the one it names"
    (e,) = join.add_decision(second, ("d", 0, 1), 3)
    assert e.decision == second and join.pending_decisions == 0
    assert join.add_decision(decision(1, 0, observation_id="o-1"), ("d", 0, 2), 4) == []
    assert join.stats.matched == 1 and join.stats.duplicates == 2


def test_a_reward_naming_no_decision_joins_the_first_that_answers_its_observation():
    join = PendingJoin()
    foreign = decision(1, 0, observation_id="o-other")
    first, later = decision(1, 0, observation_id="o-1"), decision(1, 0, observation_id="o-1")
    for i, d in enumerate((foreign, first, later)):
        join.add_decision(d, ("d", 0, i), 1)
    missing = reward(1, 0, observation_id="o-1", decision_status=DecisionStatus.MISSING)
    (e,) = join.add_reward(missing, ("r", 0, 0), 2)
    assert e.decision == first and e.decision_status is DecisionStatus.MISSING


def test_a_restarted_game_starts_its_own_clock_and_nothing_of_it_is_late():
    join = PendingJoin(reward_timeout_ms=4 * T)
    for seq in range(40):  # the first run of the game, far ahead in game time
        late = seq * T * 10
        join.add_decision(decision(1, seq, epoch="run-1", event_time=late), ("d", 0, seq), 1)
        join.add_reward(reward(1, seq, epoch="run-1", event_time=late + T), ("r", 0, seq), 1)
    join.expire(2)
    restarted = [decision(1, seq, epoch="run-2") for seq in range(5)]  # seq 0 again, behind
    for seq, d in enumerate(restarted):
        join.add_decision(d, ("d", 0, 100 + seq), 3)
    assert join.expire(4) == [], "run-1's clock must not expire run-2's decisions"
    joined = []
    for seq in range(5):
        r = reward(1, seq, epoch="run-2", decision_id=restarted[seq].decision_id)
        joined += join.add_reward(r, ("r", 0, 100 + seq), 5)
    assert [e.decision for e in joined] == restarted
    assert join.stats.defaulted == 0 and join.stats.late_rewards == 0


def test_expired_decision_becomes_default_or_is_dropped_by_event_time():
    for default, expected in ((-0.5, 1), (None, 0)):
        join = PendingJoin(reward_timeout_ms=4 * T, default_reward=default)
        join.add_decision(decision(1, 0), ("d", 0, 0), 1)  # its reward never comes
        join.add_decision(decision(1, 3), ("d", 0, 1), 1)
        join.add_reward(reward(1, 3), ("r", 0, 1), 1)  # watermark: tick 3, within the timeout
        assert join.expire(2) == []
        join.add_decision(decision(1, 5), ("d", 0, 2), 1)
        join.add_reward(reward(1, 5), ("r", 0, 2), 1)  # watermark: tick 5 > tick 0 + 4 ticks
        out = join.expire(3)
        assert len(out) == expected
        if out:
            assert out[0].reward_source is RewardSource.DEFAULT and out[0].reward == -0.5
            assert out[0].decision_status is DecisionStatus.MISSING
        assert join.stats.defaulted + join.stats.dropped_decisions == 1


def test_an_epoch_that_stops_is_resolved_after_the_idle_timeout_of_wall_time():
    join = PendingJoin(reward_timeout_ms=4 * T, limits=JoinLimits(idle_timeout_ms=10_000))
    join.add_decision(decision(1, 7, epoch="killed"), ("d", 0, 0), 1_000_000)
    assert join.expire(5_000_000) == [] and join.lowest_held_offsets() == {("d", 0): 0}
    (e,) = join.expire(11_000_001)
    assert e.reward_source is RewardSource.DEFAULT and join.stats.idle_epochs == 1
    assert join.lowest_held_offsets() == {} and join.epochs == {}


def test_the_oldest_held_records_resolve_early_beyond_the_bound():
    join = PendingJoin(limits=JoinLimits(max_held=3))
    for seq in range(5):
        join.add_decision(decision(1, seq), ("d", 0, seq), 1)
    out = join.expire(2)
    assert [e.decision.seq for e in out] == [0, 1] and join.pending_decisions == 3
    assert join.stats.evicted == 2


def test_orphan_rewards_are_dropped_after_the_timeout():
    join = PendingJoin(reward_timeout_ms=T)
    join.add_reward(reward(1, 0), ("r", 0, 0), 1)  # its decision never comes
    for seq in (2, 3):
        join.add_decision(decision(1, seq), ("d", 0, seq), 1)
        join.add_reward(reward(1, seq), ("r", 0, seq), 1)
    join.add_reward(reward(1, 4), ("r", 0, 4), 1)  # waits for its decision, within the timeout
    join.expire(2)
    assert join.stats.orphan_rewards == 1 and join.pending_rewards == 1


def test_one_record_stamped_ahead_moves_no_watermark():
    join = PendingJoin(reward_timeout_ms=4 * T)
    waiting = decision(1, 0)
    join.add_decision(waiting, ("d", 0, 0), 1)
    for territory in (1, 2):
        join.add_decision(decision(territory, 1), ("d", 0, 1), 1)
        join.add_reward(reward(territory, 1), ("r", 0, 1), 1)
    ahead = 40 * T  # within the skew the handler allows, far past the timeout
    join.add_decision(decision(2, 40, event_time=ahead), ("d", 0, 2), 1)
    join.add_reward(reward(2, 40, event_time=ahead), ("r", 0, 2), 1)
    assert join.expire(2) == [], "territory 1's clock holds the watermark"
    assert join.watermark(0) == decision(1, 1).event_time


def test_a_silent_territory_stops_holding_the_watermark_after_the_idle_timeout():
    join = PendingJoin(reward_timeout_ms=4 * T, limits=JoinLimits(idle_timeout_ms=10_000))
    join.add_decision(decision(2, 0), ("d", 0, 0), 1_000_000)  # its match ended right after
    for seq in range(10):
        at_us = 1_000_000 + seq * 2_000_000
        join.add_decision(decision(1, seq), ("d", 0, 1 + seq), at_us)
        join.add_reward(reward(1, seq), ("r", 0, seq), at_us)
    (e,) = join.expire(19_000_000)
    assert e.decision.territory_id == "t-0002" and e.reward_source is RewardSource.DEFAULT


def test_watermarks_are_per_partition():
    join = PendingJoin(reward_timeout_ms=T)
    join.add_decision(decision(1, 0), ("d", 0, 0), 1)
    join.add_reward(reward(2, 9), ("r", 1, 0), 1)  # far ahead, but on another partition
    assert join.expire(2) == [] and join.pending_decisions == 1


def at(record, topic, offset, partition=0):
    return Incoming(record, MessageStub(topic, b"", partition, offset))


def test_commit_positions_hold_back_to_the_oldest_pending_record():
    handler = JoinHandler(PendingJoin(), "d", "x")
    batch = [at(decision(1, 0), "d", 10), at(decision(2, 0), "d", 11), at(reward(1, 0), "r", 40)]
    out = handler.handle(batch, NOW)
    assert [o.record.decision.territory_id for o in out] == ["t-0001"]
    assert out[0].topic == "x" and out[0].key == b"t-0001"
    positions = {("d", 0): 12, ("r", 0): 41, ("d", 1): 7}
    assert handler.commit_positions(positions) == {("d", 0): 11, ("r", 0): 41, ("d", 1): 7}
    handler.on_revoke([("d", 0), ("r", 0)])
    assert handler.pending.pending_decisions == 0


def test_an_event_time_far_from_its_clock_is_refused_and_moves_no_watermark():
    handler = JoinHandler(PendingJoin(reward_timeout_ms=4 * T), "d", "x")
    real = decision(1, 0)
    handler.handle([at(real, "d", 0), at(reward(1, 0, event_time=real.event_time), "r", 0)], NOW)
    future = samples.GAME_START_MS + 10 * 365 * 24 * 3600 * 1000
    forged = [
        at(decision(2, 5, event_time=future), "d", 1),
        at(reward(2, 5, event_time=future), "r", 1),
        at(reward(3, 0, event_time=0), "r", 2),  # 1970
    ]
    out = handler.handle(forged, NOW)
    assert [type(o) for o in out] == [Rejected] * 3
    assert [o.reason for o in out] == ["event_time_ahead", "event_time_ahead", "event_time_behind"]
    assert handler.pending.watermark(0) == real.event_time
    waiting = decision(4, 1)
    handler.handle([at(waiting, "d", 3)], NOW)
    assert handler.on_tick(NOW) == [] and handler.pending.pending_decisions == 1
    (e,) = handler.handle([at(reward(4, 1, decision_id=waiting.decision_id), "r", 3)], NOW)
    assert isinstance(e, Outgoing) and e.record.reward_source is RewardSource.MATCHED


def test_the_first_record_of_an_epoch_far_from_the_wall_clock_is_refused():
    handler = JoinHandler(PendingJoin(), "d", "x")
    (out,) = handler.handle([at(decision(1, 0, epoch="new", event_time=10**12), "d", 0)], NOW)
    assert isinstance(out, Rejected) and out.reason == "event_time_wall_skew"


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
    remembered = sorted(seq for _, _, seq in join.epochs[(0, "")].joined)
    newest = max(remembered)
    assert remembered == list(range(newest - 8, newest + 1)), "the last two timeouts (8 ticks)"
    assert join.add_reward(reward(1, newest - 8), ("r", 0, 99), 2) == []  # still a duplicate


def test_epochs_are_bounded_and_the_stalest_resolves_early():
    join = PendingJoin(limits=JoinLimits(max_epochs=2))
    for i, epoch in enumerate(("a", "b", "c")):  # a third epoch pushes out the stalest
        join.add_decision(decision(1, 0, epoch=epoch), ("d", 0, i), 1_000 + i)
    assert set(join.epochs) == {(0, "b"), (0, "c")}
    (e,) = join.expire(2_000)
    assert e.decision.epoch == "a" and e.reward_source is RewardSource.DEFAULT


def test_metrics_count_every_experience_of_a_batch_and_of_a_tick():
    """The metrics are updated once per batch and per tick, not per record: nothing is missed."""
    registry = CollectorRegistry()
    handler = JoinHandler(
        PendingJoin(reward_timeout_ms=T), "d", "x", JoinerMetrics.create(registry)
    )

    def sample(name, **labels):
        return registry.get_sample_value(f"queen_joiner_{name}", labels)

    batch = [at(decision(t, 0), "d", t) for t in range(3)]
    batch += [at(reward(t, 0), "r", t) for t in range(2)]
    for seq in (1, 2):  # every territory two ticks on: the watermark passes tick 0's timeout
        batch += [at(decision(t, seq), "d", 10 * seq + t) for t in range(3)]
        batch += [at(reward(t, seq), "r", 10 * seq + t) for t in range(3)]
    assert len(handler.handle(batch, NOW)) == 8
    assert sample("experiences_total", source="MATCHED") == 8
    assert sample("join_latency_seconds_count") == 8
    assert sample("pending_decisions") == 1 and sample("pending_rewards") == 0
    assert sample("events_total", outcome="matched") == 8
    (expired,) = handler.on_tick(NOW)  # territory 2's tick 0, its reward never came
    assert expired.record.reward_source is RewardSource.DEFAULT
    assert sample("experiences_total", source="DEFAULT") == 1
    assert sample("join_latency_seconds_count") == 9 and sample("pending_decisions") == 0


def test_metrics_that_fail_never_cost_the_batch_its_experiences():
    """The metrics are updated after the batch is joined: a failure there must not raise, or
    the loop would handle the batch again, as duplicates, and emit nothing."""

    class Broken:
        def observe(self, *args):
            raise RuntimeError("metrics broke")

    handler = JoinHandler(PendingJoin(), "d", "x", Broken())
    out = handler.handle([at(decision(1, 0), "d", 0), at(reward(1, 0), "r", 0)], NOW)
    assert [o.record.decision.territory_id for o in out] == ["t-0001"]
    assert handler.on_tick(NOW) == []
