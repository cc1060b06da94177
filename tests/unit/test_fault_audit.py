"""The fault suite's audit catches every kind of broken promise it names (no broker needed)."""

import dataclasses

from schemas.enums import DecisionStatus, RewardSource
from tests import samples
from tests.faults.audit import count


def tick(territory: int, seq: int = 0):
    """One clean tick: its observation, decision, reward and experience."""
    obs = samples.observation(territory, seq, epoch="e")
    d = samples.decision(territory, seq, observation_id=obs.observation_id, epoch="e")
    r = samples.reward(
        territory,
        seq,
        epoch="e",
        observation_id=obs.observation_id,
        decision_id=d.decision_id,
        decision_status=DecisionStatus.APPLIED,
    )
    e = dataclasses.replace(
        samples.experience(territory, seq),
        decision=d,
        reward=r.reward,
        decision_status=r.decision_status,
    )
    return obs, d, r, e


def audit(ticks, trained, versions=(1, 2)):
    o, d, r, e = ([t[i] for t in ticks if t[i] is not None] for i in range(4))
    flat = lambda xs: [x for group in xs for x in (group if isinstance(group, list) else [group])]  # noqa: E731
    found = count(
        flat(o), flat(d), flat(r), flat(e), [samples.model_version(v) for v in versions], trained
    )
    return found.violations()


def test_a_clean_loop_has_no_violation():
    ticks = [tick(t) for t in range(4)]
    assert set(audit(ticks, [t[1].decision_id for t in ticks]).values()) == {0}


def test_every_broken_promise_is_counted():
    clean = [tick(t) for t in range(4)]
    lonely = (samples.observation(20, 0), None, None, None)  # never decided

    o, d, r, e = tick(30)  # rewarded twice; a second decision got an experience; wrong reward
    second = dataclasses.replace(d, decision_id="second")
    twice = (
        o,
        [d, second],
        [r, dataclasses.replace(r, emitted_at=1)],
        [
            dataclasses.replace(e, reward=e.reward + 1.0),
            dataclasses.replace(e, decision=second),
        ],
    )
    o, d, r, e = tick(31)  # a DEFAULT experience although the tick's reward is there
    defaulted = (o, d, r, dataclasses.replace(e, reward_source=RewardSource.DEFAULT))
    o, d, r, _ = tick(32)  # no experience at all
    unjoined = (o, d, r, None)
    o, d, r, _ = tick(33)  # the reward names a decision that does not answer its observation
    ghost = (o, d, dataclasses.replace(r, decision_id="ghost"), None)
    o, d, r, e = tick(34)  # two different experiences of one decision
    conflict = (o, d, r, [e, dataclasses.replace(e, reward=e.reward - 1.0)])

    ticks = [*clean, lonely, twice, defaulted, unjoined, ghost, conflict]
    trained = [t[1].decision_id for t in clean] + [clean[0][1].decision_id, "stranger"]
    assert audit(ticks, trained, versions=(1, 2, 2)) == {
        "observations_without_a_decision": 1,
        "observations_rewarded_twice": 1,
        "rewards_naming_a_decision_of_another_observation": 1,
        "tick_decisions_without_an_experience": 1,
        "decisions_with_conflicting_experiences": 1,
        "duplicate_decisions_with_an_experience": 1,
        "default_experiences_whose_reward_exists": 1,
        "experiences_with_another_ticks_reward": 1,
        "decisions_trained_twice": 1,
        "experiences_never_trained": 4,
        "trained_decisions_that_are_not_a_ticks_decision": 1,
        "version_numbers_used_twice": 1,
    }
