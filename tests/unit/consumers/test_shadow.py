"""Shadow scoring: inference logs the candidate's greedy action and policy probabilities beside
each served decision, on the same features, without acting on them."""

import dataclasses
import itertools
import math
import re

import numpy as np
import pytest
import torch
from prometheus_client import CollectorRegistry

from consumers.inference.handler import ACTIONS, InferenceHandler
from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot, Served
from consumers.inference.settings import InferenceSettings
from consumers.inference.shadow import score
from queen.model import initial_model
from queen.policy import ExplorationConfig, ExplorationPolicy, action_probabilities
from runtime.errors import SettingsError
from runtime.loop import Incoming, Outgoing
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import PromotionKind, ServingMode
from schemas.records import Decision
from tests import samples
from tests.fakes import MessageStub
from tests.unit.consumers.test_promotion_following import NOW, follow, promotion, version

CODEC = AvroSingleObjectCodec.default()
CONFIG = ExplorationConfig("epsilon", 0.2)


def make(mode=ServingMode.GATED, shadow=True, config=CONFIG):
    registry = CollectorRegistry()
    metrics = InferenceMetrics.create(registry)
    slot = ModelSlot(initial_model(0), metrics, mode)
    counter = itertools.count()
    handler = InferenceHandler(
        slot,
        ExplorationPolicy(config, seed=1),
        "dec",
        0.0,
        metrics,
        wall_us=lambda: 1_800_000_000_000_000,
        new_ids=lambda n: [f"d-{next(counter)}" for _ in range(n)],
        shadow=shadow,
    )
    return handler, registry


def decide(handler, n=40, seq=3) -> list[Decision]:
    obs = [samples.observation(t, seq, observation_id=f"o-{t}-{seq}") for t in range(n)]
    batch = [Incoming(o, MessageStub("obs", b"", 0, i)) for i, o in enumerate(obs)]
    return [o.record for o in handler.handle(batch, 0.0) if isinstance(o, Outgoing)]


def values_of(slot_entry, decisions):
    features = np.array([d.features for d in decisions], np.float32)
    with torch.inference_mode():
        return slot_entry.model(torch.from_numpy(features)).numpy()


@pytest.mark.parametrize("config", [CONFIG, ExplorationConfig("softmax", temperature=0.5)])
def test_a_newer_verified_candidate_is_logged_as_the_shadow_of_every_decision(config):
    handler, registry = make(config=config)
    assert handler.slot.offer(version(3, seed=6))
    decisions = decide(handler)
    assert {d.model_version for d in decisions} == {0}
    assert {d.shadow.model_version for d in decisions if d.shadow} == {3}
    assert all(d.shadow is not None for d in decisions)
    candidate = values_of(handler.slot.candidate, decisions)
    expected = action_probabilities(candidate, config)
    for d, row, probs in zip(decisions, candidate, expected, strict=True):
        assert d.shadow.action == ACTIONS[int(row.argmax())]
        assert np.allclose(d.shadow.probabilities, probs, atol=1e-6)
        assert CODEC.decode(CODEC.encode(d), Decision) == d  # valid, exact in Avro float
    served = values_of(handler.slot.current, decisions).argmax(axis=1)
    agreement = float((candidate.argmax(axis=1) == served).mean())
    assert registry.get_sample_value("queen_inference_shadow_model_version") == 3
    assert registry.get_sample_value("queen_inference_shadow_agreement_ratio") == agreement


def test_no_shadow_in_immediate_mode_every_version_is_served():
    handler, registry = make(ServingMode.IMMEDIATE)
    assert handler.slot.offer(version(3, seed=6))
    decisions = decide(handler)
    assert {d.model_version for d in decisions} == {3}
    assert all(d.shadow is None for d in decisions) and handler.slot.candidate is None
    assert registry.get_sample_value("queen_inference_shadow_model_version") == -1
    assert math.isnan(registry.get_sample_value("queen_inference_shadow_agreement_ratio"))


def test_no_shadow_when_shadow_scoring_is_off():
    handler, registry = make(shadow=False)
    assert handler.slot.offer(version(3, seed=6))
    assert all(d.shadow is None for d in decide(handler))
    assert registry.get_sample_value("queen_inference_shadow_model_version") == -1


def test_the_shadow_never_changes_the_served_decisions():
    with_shadow, _ = make()
    without, _ = make(shadow=False)
    alone, _ = make()  # no candidate at all
    for handler in (with_shadow, without):
        assert handler.slot.offer(version(3, seed=6))
    for seq in range(3):
        shadowed = decide(with_shadow, seq=seq)
        assert all(d.shadow is not None for d in shadowed)
        plain = [dataclasses.replace(d, shadow=None) for d in shadowed]
        assert plain == decide(without, seq=seq) == decide(alone, seq=seq)


def test_a_promotion_of_the_shadow_serves_it_and_clears_the_shadow():
    handler, registry = make()
    candidate = version(3, seed=6)
    assert handler.slot.offer(candidate)
    assert all(d.shadow is not None for d in decide(handler))
    applied, dead = follow(handler.slot, [promotion(candidate)])
    assert (applied, dead) == (1, [])
    decisions = decide(handler)
    assert {d.model_version for d in decisions} == {3}
    assert all(d.shadow is None for d in decisions) and handler.slot.candidate is None
    assert registry.get_sample_value("queen_inference_shadow_model_version") == -1
    assert registry.get_sample_value("queen_inference_candidate_model_version") == 0


def test_the_slot_keeps_the_newest_candidate_and_drops_one_a_promotion_passes():
    handler, _ = make()
    slot = handler.slot
    assert slot.offer(version(3, seed=6)) and slot.offer(version(5, seed=7))
    assert not slot.offer(version(4, seed=8))  # older than the candidate: not loaded
    assert slot.candidate is not None and slot.candidate.version == 5
    assert follow(slot, [promotion(version(4, seed=8))]) == (1, [])
    assert slot.candidate is not None and slot.candidate.version == 5  # still newer
    assert {d.shadow.model_version for d in decide(handler) if d.shadow} == {5}
    newer = version(6, seed=9)
    later = NOW - 500  # after the first promotion's created_at
    assert follow(slot, [promotion(newer, at=later, previous_version=4)]) == (1, [])
    assert slot.current.version == 6 and slot.candidate is None
    assert all(d.shadow is None for d in decide(handler))


def test_a_rollback_that_withdraws_the_candidate_clears_it():
    handler, _ = make()
    slot = handler.slot
    assert slot.offer(version(5, seed=7))
    back = promotion(version(2, seed=8), kind=PromotionKind.ROLLBACK, previous_version=5)
    assert follow(slot, [back]) == (1, [])
    assert slot.current.version == 2 and slot.candidate is None
    assert all(d.shadow is None for d in decide(handler))


def test_a_candidate_with_non_finite_values_scores_no_row():
    def broken(features: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((len(features), 32))
        out[0, 3] = math.nan
        return out

    features = np.full((3, 28), 0.5, np.float32)
    served = np.zeros((3, 32))
    scores = score(Served(7, broken), features, served, CONFIG, ACTIONS)  # type: ignore[arg-type]
    assert scores.shadows[0] is None
    assert [s.model_version for s in scores.shadows[1:] if s] == [7, 7]
    assert scores.agreement == 1.0


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, True), ("false", False), ("0", False), ("true", True)]
)
def test_shadow_scoring_is_on_by_default_and_can_be_turned_off(raw, expected):
    env = {"QUEEN_TRUSTED_KEYS": "k", "QUEEN_TRUSTED_PROMOTER_KEYS": "p"}
    if raw is not None:
        env["QUEEN_INFERENCE_SHADOW"] = raw
    assert InferenceSettings.from_env(env).shadow is expected


def test_a_bad_shadow_setting_fails_at_start_naming_it():
    env = {"QUEEN_TRUSTED_KEYS": "k", "QUEEN_TRUSTED_PROMOTER_KEYS": "p"}
    with pytest.raises(SettingsError, match=re.escape("QUEEN_INFERENCE_SHADOW='maybe'")):
        InferenceSettings.from_env({**env, "QUEEN_INFERENCE_SHADOW": "maybe"})
