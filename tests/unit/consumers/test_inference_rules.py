"""Inference and rules as data: unknown versions wait, then a policy decides; never refused."""

import dataclasses
import re
import time

import pytest
from prometheus_client import CollectorRegistry

from consumers.inference.handler import InferenceHandler
from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot
from queen.model import initial_model
from queen.policy import ExplorationPolicy
from queen.rules import RULES_V1, RULES_V2
from runtime.loop import Incoming, Outgoing
from runtime.rule_book import RuleBook, record_of
from schemas.enums import GateDecision
from tests import samples
from tests.fakes import MessageStub

NOW = 1_000.0


def make(book, policy="wait", wait=2.0):
    registry = CollectorRegistry()
    metrics = InferenceMetrics.create(registry)
    handler = InferenceHandler(
        ModelSlot(initial_model(0), metrics),
        ExplorationPolicy(seed=1),
        "dec",
        0.0,
        metrics,
        wall_us=lambda: 1_700_000_002_000_000,
        book=book,
        rules_wait_s=wait,
        unknown_rules=policy,
    )
    return handler, registry


def batch_of(observations, partition=0, first_offset=0):
    return [
        Incoming(o, MessageStub("obs", b"", partition, first_offset + i))
        for i, o in enumerate(observations)
    ]


def decisions(out):
    return [o.record for o in out if isinstance(o, Outgoing)]


def unknown_total(registry, outcome):
    name = "queen_inference_unknown_rules_total"
    return registry.get_sample_value(name, {"outcome": outcome})


def test_an_unknown_version_waits_apart_and_is_gated_under_its_rules_once_learnt():
    book = RuleBook.of({1: RULES_V1})
    handler, registry = make(book)
    known = [samples.observation(t, 3) for t in range(3)]
    patched = [samples.observation(t, 4, rules_version=2) for t in range(3, 5)]
    out = handler.handle(batch_of(known + patched), NOW)
    assert [d.observation_id for d in decisions(out)] == [o.observation_id for o in known]
    # the committed offset stays at the first waiting observation: a crash re-reads it
    assert handler.commit_positions({("obs", 0): 5, ("obs", 1): 9}) == {
        ("obs", 0): 3,
        ("obs", 1): 9,
    }
    assert handler.on_tick(NOW + 0.5) == []
    book.offer(record_of(RULES_V2, "game", 1_700_000_001_500_000))
    later = decisions(handler.on_tick(NOW + 0.6))
    assert [d.observation_id for d in later] == [o.observation_id for o in patched]
    assert {d.gate_version for d in later} == {"gate-r2-t0"}
    assert {d.rules_version for d in later} == {2}
    assert unknown_total(registry, "learnt") == 2 and unknown_total(registry, "policy") == 0
    assert handler.commit_positions({("obs", 0): 5}) == {("obs", 0): 5}
    # seconds from the rule set's publication to the first decision gated under it: 0.5
    seconds = registry.get_sample_value("queen_inference_rules_to_decision_seconds_sum")
    assert seconds == pytest.approx(0.5)
    assert registry.get_sample_value("queen_inference_rules_to_decision_seconds_count") == 1


@pytest.mark.parametrize(
    ("policy", "gate_version"), [("wait", "no-rules-r9"), ("newest", "gate-r2-t0")]
)
def test_after_the_wait_an_unknown_version_is_decided_under_the_policy(policy, gate_version):
    handler, registry = make(RuleBook.of({1: RULES_V1, 2: RULES_V2}), policy)
    stranger = [samples.observation(t, 3, rules_version=9) for t in range(4)]
    assert decisions(handler.handle(batch_of(stranger), NOW)) == []
    assert decisions(handler.on_tick(NOW + 1.9)) == []
    decided = decisions(handler.on_tick(NOW + 2.0))
    assert len(decided) == 4 and {d.gate_version for d in decided} == {gate_version}
    assert {d.rules_version for d in decided} == {9}  # the observation's, whatever gated it
    if policy == "wait":
        assert {d.gate_decision for d in decided} == {GateDecision.WAIT}
        assert {d.expected_reward for d in decided} == {0.0}
    assert unknown_total(registry, "policy") == 4
    assert handler.on_tick(NOW + 5) == [] and len(handler.waiting) == 0
    for d in decided:
        d.validate()


def test_newest_with_no_rules_known_at_all_waits():
    handler, _ = make(RuleBook(), "newest", wait=0.0)
    (decision,) = decisions(handler.handle(batch_of([samples.observation(1, 0)]), NOW))
    assert decision.gate_decision is GateDecision.WAIT
    assert decision.gate_version == "no-rules-r1"


def test_a_revoked_partition_leaves_its_waiting_observations_to_the_next_owner():
    handler, registry = make(RuleBook.of({1: RULES_V1}))
    waiting = [samples.observation(t, 3, rules_version=2) for t in range(2)]
    handler.handle(batch_of(waiting[:1], 0) + batch_of(waiting[1:], 1), NOW)
    handler.on_revoke([("obs", 0)])
    assert handler.commit_positions({("obs", 0): 1, ("obs", 1): 1}) == {
        ("obs", 0): 1,
        ("obs", 1): 0,
    }
    assert len(handler.waiting) == 1


def test_a_batch_handled_again_after_a_failure_holds_each_observation_once():
    handler, _ = make(RuleBook.of({1: RULES_V1}))
    batch = batch_of([samples.observation(t, 3, rules_version=2) for t in range(3)])
    handler.handle(batch, NOW)
    handler.handle(batch[:2], NOW)  # the loop's bisection re-runs part of a batch
    assert len(handler.waiting) == 3
    assert len(decisions(handler.on_tick(NOW + 3))) == 3


def test_beyond_its_capacity_the_oldest_waiting_observation_is_decided_early():
    handler, registry = make(RuleBook.of({1: RULES_V1}))
    handler.waiting.capacity = 2
    observations = [samples.observation(t, 3, rules_version=2) for t in range(3)]
    first = decisions(handler.handle(batch_of(observations), NOW))
    assert [d.observation_id for d in first] == [observations[0].observation_id]
    assert len(handler.waiting) == 2


def test_a_bad_unknown_rules_policy_is_refused():
    with pytest.raises(ValueError, match="unknown_rules='maybe'"):
        make(RuleBook(), "maybe")


def test_observations_of_many_id_shapes_are_decided_and_keyed_by_their_id():
    shapes = [
        "t-0001",
        "castle north",
        "领地-東京-42",
        "🏰",
        "a",
        "x" * 128,
        "match/7f3a:zone#3?q=1&r=2",
        "  spaces  ",
        "tab\tand\nnewline",
        "-",
    ]
    handler, _ = make(RuleBook.of({1: RULES_V1}))
    observations = [samples.observation(0, 3, territory_id=s) for s in shapes]
    out = [o for o in handler.handle(batch_of(observations), NOW) if isinstance(o, Outgoing)]
    assert [o.record.territory_id for o in out] == shapes
    assert [o.key for o in out] == [s.encode() for s in shapes]
    for o in out:
        o.record.validate()


def test_a_territory_id_beyond_the_limit_is_refused_by_the_contract():
    from schemas.codec import AvroSingleObjectCodec
    from schemas.errors import InvalidRecord

    codec = AvroSingleObjectCodec.default()
    with pytest.raises(InvalidRecord, match="territory_id"):
        codec.encode(dataclasses.replace(samples.observation(0, 3), territory_id="x" * 129))
    with pytest.raises(InvalidRecord, match="territory_id"):
        codec.encode(dataclasses.replace(samples.observation(0, 3), territory_id=""))


def test_a_flood_of_unknown_rules_is_held_in_bounded_memory_and_time():
    handler, registry = make(RuleBook.of({1: RULES_V1}))
    handler.waiting.capacity = 1_000
    stranger = samples.observation(0, 3, rules_version=99)
    started = time.perf_counter()
    for start in range(0, 20_000, 500):
        batch = [Incoming(stranger, MessageStub("obs", b"", 0, start + i)) for i in range(500)]
        handler.handle(batch, NOW)
    assert len(handler.waiting) <= 1_000
    assert unknown_total(registry, "policy") == 20_000 - len(handler.waiting)
    assert time.perf_counter() - started < 30, "parking is not quadratic"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUEEN_RULES_UNKNOWN_POLICY": "maybe"}, "QUEEN_RULES_UNKNOWN_POLICY='maybe'"),
        ({"QUEEN_RULES_WAIT_S": "-1"}, "QUEEN_RULES_WAIT_S='-1'"),
        ({"QUEEN_RULES_TRUSTED_KEYS": "/nonexistent"}, "QUEEN_RULES_TRUSTED_KEYS='/nonexistent'"),
    ],
)
def test_bad_rules_settings_fail_at_start_naming_the_setting(env, named):
    from consumers.inference.settings import InferenceSettings
    from runtime.errors import SettingsError
    from runtime.rule_signing import rules_verifier

    with pytest.raises(SettingsError, match=re.escape(named)):
        keys = {"QUEEN_TRUSTED_KEYS": "k", "QUEEN_TRUSTED_PROMOTER_KEYS": "p"}
        settings = InferenceSettings.from_env({**keys, **env})
        rules_verifier(settings.rules_trusted_keys)


def test_a_bad_match_churn_fails_at_start_naming_the_setting():
    from producers.game.settings import GameSettings
    from runtime.errors import SettingsError

    with pytest.raises(SettingsError, match=re.escape("QUEEN_GAME_MATCH_CHURN=2.0")):
        GameSettings.from_env({"QUEEN_GAME_MATCH_CHURN": "2"})
