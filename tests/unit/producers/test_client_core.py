"""The game side of the protocol without I/O: the ledger's verdicts, numbering, records."""

from producers.client.core import (
    Fallback,
    Ledger,
    Numbering,
    TerritoryState,
    Verdict,
    observation_of,
    reward_of,
    serve,
)
from schemas.enums import DecisionStatus, GateDecision, SpawnType
from schemas.records import Action
from tests import samples

STATE = TerritoryState("t-0001", 2, 100.0, 10.0, 2.0, 0.9, 0, (0.1,) * 8, (1,) * 8, (2, 1, 0, 0))


def test_the_first_decision_for_an_open_observation_is_accepted_and_the_rest_judged():
    ledger = Ledger(remember=2)
    ledger.open("a")
    ledger.open("b")
    first = samples.decision(observation_id="a")
    assert ledger.offer(first) is Verdict.ACCEPTED
    assert ledger.offer(samples.decision(observation_id="a")) is Verdict.DUPLICATE
    assert ledger.offer(samples.decision(observation_id="zzz")) is Verdict.UNKNOWN
    assert ledger.close("a") == first
    assert ledger.close("b") is None
    assert ledger.offer(samples.decision(observation_id="a")) is Verdict.DUPLICATE
    assert ledger.offer(samples.decision(observation_id="b")) is Verdict.LATE
    ledger.open("c")
    ledger.close("c")  # remembers 2: "a" is forgotten
    assert ledger.offer(samples.decision(observation_id="a")) is Verdict.UNKNOWN
    assert ledger.counts == {
        Verdict.ACCEPTED: 1,
        Verdict.DUPLICATE: 2,
        Verdict.LATE: 1,
        Verdict.UNKNOWN: 2,
    }


def test_numbering_counts_each_territory_from_zero_in_its_epoch():
    numbering = Numbering("e1")
    assert [numbering.next_seq("a"), numbering.next_seq("a"), numbering.next_seq("b")] == [0, 1, 0]
    assert len(Numbering().epoch) == 16 and Numbering().epoch != Numbering().epoch


def test_records_carry_the_epoch_and_a_reward_names_observation_and_decision():
    obs = observation_of(
        STATE, observation_id="o1", seq=3, epoch="e1", event_time=5_000, emitted_at=6_000_000
    )
    obs.validate()
    assert (obs.epoch, obs.seq, obs.territory_id, obs.rules_version) == ("e1", 3, "t-0001", 2)
    wait = samples.decision(observation_id="o1", gate_decision=GateDecision.WAIT)
    kwargs = dict(
        reward=0.5, components={"x": 0.5}, event_time=20_000, emitted_at=7, rules_version=2
    )
    reward = reward_of(obs, wait, **kwargs)
    reward.validate()
    assert (reward.observation_id, reward.decision_id) == ("o1", wait.decision_id)
    assert (reward.epoch, reward.seq, reward.decision_status) == ("e1", 3, DecisionStatus.WAITED)
    assert reward_of(obs, None, **kwargs).decision_status is DecisionStatus.MISSING
    send = samples.decision(observation_id="o1")
    assert reward_of(obs, send, **kwargs).decision_status is DecisionStatus.APPLIED


def test_the_fallback_waits_or_repeats_the_last_action_served():
    obs = observation_of(STATE, observation_id="o", seq=0, epoch="", event_time=0, emitted_at=0)
    last = Action(2, SpawnType.GUARD)
    assert serve(obs, None, Fallback.WAIT, last, "deadline").action is None
    repeat = serve(obs, None, Fallback.LAST_ACTION, last, "deadline")
    assert (repeat.action, repeat.send, repeat.fallback) == (last, True, "deadline")
    nothing_yet = serve(obs, None, Fallback.LAST_ACTION, None, "deadline")
    assert (nothing_yet.action, nothing_yet.send) == (None, False)
    decided = serve(obs, samples.decision(observation_id="o"), Fallback.WAIT, last, "deadline")
    assert (
        decided.fallback is None and decided.send and decided.action == Action(3, SpawnType.SOLDIER)
    )
