import dataclasses

import numpy as np
import pytest

from schemas.enums import GateDecision
from tests import samples
from trainer.buffer.buffer import ReplayBuffer
from trainer.buffer.sampler import PrioritySampler, UniformSampler

HOUR_MS = 3_600_000


def experience(i: int, model_version: int = 0, event_time: int | None = None, send=True):
    base = samples.experience(i % 64, i)
    decision = dataclasses.replace(
        base.decision,
        decision_id=f"d{i}",
        model_version=model_version,
        event_time=1_000_000 + 15_000 * i if event_time is None else event_time,
        gate_decision=GateDecision.SEND if send else GateDecision.WAIT,
    )
    return dataclasses.replace(base, decision=decision, reward=float(i))


def buffer(capacity=10, min_size=2, sampler=None, max_age_ms=HOUR_MS, lag=1000):
    return ReplayBuffer(capacity, min_size, sampler or UniformSampler(0), max_age_ms, lag)


@pytest.mark.parametrize(
    "make_sampler",
    [lambda: UniformSampler(0), lambda: PrioritySampler()],
    ids=["uniform", "priority"],
)
def test_contract_fifo_dedupe_min_size_and_no_repeats_in_a_batch(make_sampler):
    b = buffer(capacity=5, min_size=3, sampler=make_sampler())
    assert b.sample(4, 0) is None
    for i in range(8):
        assert b.add(experience(i))
    assert len(b) == 5
    assert not b.add(experience(0)), "a decision_id taken before eviction stays taken"
    assert b.duplicates == 1
    batch = b.sample(4, 0)
    assert batch is not None and len(batch.indices) == 4
    assert len(set(batch.decision_id)) == 4
    assert set(batch.decision_id) <= {f"d{i}" for i in range(3, 8)}, "the oldest were evicted"
    assert batch.features.shape == (4, 28) and batch.weights.shape == (4,)


def test_only_completed_rows_are_sampled():
    b = buffer(capacity=10, min_size=1)
    for i in range(4):
        b.add(experience(i))
    b.storage.completed[:3] = False
    for _ in range(20):
        assert b.sample(4, 0).decision_id == ["d3"]


def test_staleness_by_age_and_by_version_lag():
    b = buffer(capacity=20, min_size=1, max_age_ms=60_000, lag=5)
    b.add(experience(0, event_time=0))  # an hour older than the newest
    b.add(experience(1, model_version=1, event_time=HOUR_MS))  # 9 versions behind
    b.add(experience(2, model_version=8, event_time=HOUR_MS))
    seen = {d for _ in range(20) for d in b.sample(3, current_version=10).decision_id}
    assert seen == {"d2"}


def test_priority_sampling_follows_priorities_with_importance_weights():
    sampler = PrioritySampler(alpha=1.0, beta=1.0, seed=3)
    b = buffer(capacity=4, min_size=1, sampler=sampler)
    for i in range(4):
        b.add(experience(i))
    b.update_priorities(np.arange(4), np.array([1.0, 1.0, 1.0, 7.0]))
    counts = np.zeros(4)
    for _ in range(4000):
        batch = b.sample(1, 0)
        counts[batch.indices[0]] += 1
        if batch.indices[0] == 3:
            assert batch.weights[0] == pytest.approx(1.0)
    shares = counts / counts.sum()
    expected = np.array([1, 1, 1, 7]) / 10
    assert np.abs(shares - expected).max() < 0.03


def test_state_dict_round_trip():
    a = buffer(capacity=6)
    for i in range(9):
        a.add(experience(i))
    b = buffer(capacity=6)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.storage.reward, b.storage.reward)
    assert b.storage.decision_id == a.storage.decision_id
    assert len(b) == 6 and not b.add(experience(8)) and b.add(experience(9))


def test_first_use_reports_each_row_once_and_not_rows_refilled_after_a_restart():
    b = buffer(capacity=4)
    for i in range(3):
        b.add(dataclasses.replace(experience(i), reward_emitted_at=1000 + i))
    b.add(dataclasses.replace(experience(3), reward_emitted_at=2000), used=True)  # refilled
    assert b.first_use(np.array([0, 1, 1, 3])) == (1000, 1001)
    assert b.first_use(np.array([0, 1, 2, 3])) == (1002,)
    b.add(dataclasses.replace(experience(4), reward_emitted_at=3000))  # overwrites row 0
    assert b.first_use(np.array([0, 1])) == (3000,)


@pytest.mark.parametrize("make_sampler", [lambda: UniformSampler(0), lambda: PrioritySampler()])
def test_fresh_share_puts_the_newest_untrained_rows_first_and_samples_the_rest(make_sampler):
    b = ReplayBuffer(100, 2, make_sampler(), HOUR_MS, 1000, fresh_share=0.25)
    for i in range(40):
        b.add(experience(i))
    b.first_use(np.arange(30))  # rows 0..29 trained on; 30..39 are new, 39 the newest
    batch = b.sample(16, 0)
    assert batch.indices[:4].tolist() == [39, 38, 37, 36], "a quarter of 16, newest first"
    assert len(set(batch.indices.tolist())) == 16
    assert np.all(batch.weights[:4] == 1.0)
    b.first_use(batch.indices)  # what the step trained on is no longer fresh
    still_new = sorted(set(range(30, 40)) - set(batch.indices.tolist()), reverse=True)[:4]
    assert b.sample(16, 0).indices[: len(still_new)].tolist() == still_new


def test_without_fresh_share_the_batch_is_all_sampled():
    b = ReplayBuffer(100, 2, UniformSampler(0), HOUR_MS, 1000, fresh_share=0.0)
    for i in range(40):
        b.add(experience(i))
    newest_first = [b.sample(4, 0).indices[0] for _ in range(50)]
    assert len(set(newest_first)) > 10, "no row is favoured"


def test_a_fully_fresh_batch_needs_no_sampling():
    b = ReplayBuffer(100, 2, PrioritySampler(), HOUR_MS, 1000, fresh_share=1.0)
    for i in range(10):
        b.add(experience(i))
    assert sorted(b.sample(8, 0).indices.tolist()) == list(range(2, 10))


def test_a_restarted_games_rows_are_not_stale_beside_the_previous_runs_clock():
    buffer = ReplayBuffer(100, 8, UniformSampler(0), max_age_ms=600_000, max_version_lag=1000)
    for i in range(10):  # the first run, ten hours of game time ahead
        e = samples.experience(1, i)
        d = dataclasses.replace(
            e.decision, decision_id=f"a{i}", epoch="run-1", event_time=36_000_000_000 + i
        )
        buffer.add(dataclasses.replace(e, decision=d))
    for i in range(10):  # the restarted game: its own, earlier clock
        e = samples.experience(1, i)
        buffer.add(
            dataclasses.replace(
                e, decision=dataclasses.replace(e.decision, decision_id=f"b{i}", epoch="run-2")
            )
        )
    batch = buffer.sample(20, 0)
    assert batch is not None and len(batch.indices) == 20
