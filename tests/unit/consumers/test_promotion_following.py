"""Inference follows promotions: only a promoter-signed promotion carrying a verified version
changes what is served in gated mode; forged, replayed and mismatched ones are refused."""

import dataclasses
from threading import Event

import pytest
from prometheus_client import CollectorRegistry

from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot
from queen.model import initial_model
from runtime.model_versions import Rejection, VersionCheck
from runtime.promotions import PromotionCheck, PromotionReader
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import PromotionKind, ServingMode
from schemas.records import ModelVersion, Promotion
from tests import keys, samples
from tests.fakes import MessageStub

CODEC = AvroSingleObjectCodec.default()
NOW = 1_800_000_000_000_000


def version(n: int, seed: int = 5) -> ModelVersion:
    return keys.signer().sign(samples.loadable_version(n, seed, created_at=NOW - 10**6))


def promotion(v: ModelVersion, at: int = NOW - 1000, **changes: object) -> Promotion:
    fields: dict[str, object] = dict(
        model_name="queen",
        model_version=v.version,
        sha256=v.sha256,
        kind=PromotionKind.PROMOTE,
        mode=ServingMode.GATED,
        version_record=CODEC.encode(v),
        previous_version=0,
        created_at=at,
        reason="test",
    )
    fields.update(changes)
    return keys.promoter_signer().sign_promotion(Promotion(**fields))  # type: ignore[arg-type]


def check() -> PromotionCheck:
    versions = VersionCheck("queen", keys.verifier())
    return PromotionCheck("queen", keys.promoter_verifier(), versions, CODEC)


class Consumer:
    def __init__(self, records: list[Promotion | bytes]) -> None:
        self.messages = [
            MessageStub("queen.promotions", r if isinstance(r, bytes) else CODEC.encode(r), 0, i)
            for i, r in enumerate(records)
        ]

    def consume(self, n: int, timeout: float) -> list[MessageStub]:
        out, self.messages = self.messages[:n], self.messages[n:]
        return out


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def publish(self, message: object, error: Rejection, kind: object) -> None:
        self.reasons.append(error.reason)


def gated() -> tuple[ModelSlot, CollectorRegistry]:
    registry = CollectorRegistry()
    return ModelSlot(
        initial_model(0), InferenceMetrics.create(registry), ServingMode.GATED
    ), registry


def follow(slot: ModelSlot, records: list[Promotion | bytes]) -> tuple[int, list[str]]:
    dead = DeadLetters()
    reader = PromotionReader(
        Consumer(records), "queen.promotions", slot, CODEC, check(), Event(), dead, lambda: NOW
    )
    return reader.read_once(), dead.reasons


def test_gated_mode_serves_no_version_until_a_promotion_carries_it():
    slot, registry = gated()
    assert slot.offer(version(3))
    assert slot.current.version == 0 and slot.candidate is not None
    assert slot.candidate.version == 3
    applied, dead = follow(slot, [promotion(version(3))])
    assert (applied, dead) == (1, [])
    assert slot.current.version == 3 and slot.candidate is None
    count = registry.get_sample_value(
        "queen_inference_promotions_applied_total", {"kind": "PROMOTE"}
    )
    assert count == 1


def test_a_promotion_before_its_version_arrives_serves_the_version_it_carries():
    slot, _ = gated()  # the model-versions reader has seen nothing (compacted away, or late)
    assert follow(slot, [promotion(version(9))]) == (1, [])
    assert slot.current.version == 9


def test_forged_replayed_and_mismatched_promotions_are_refused_and_dead_lettered():
    slot, registry = gated()
    good = promotion(version(4), at=NOW - 500)
    by_trainer = keys.signer().sign_promotion(dataclasses.replace(good, key_id=None))
    tampered = dataclasses.replace(good, model_version=5)  # signature no longer verifies
    unsigned = dataclasses.replace(good, signature=None)
    unsigned_version = samples.loadable_version(7, created_at=NOW)
    forged_version = promotion(
        unsigned_version, version_record=CODEC.encode(unsigned_version), at=NOW - 100
    )
    records: list[Promotion | bytes] = [
        by_trainer,
        tampered,
        unsigned,
        b"\x00garbage",
        good,
        promotion(version(2), at=NOW - 600),  # older than the one applied: a replay
        forged_version,
    ]
    applied, dead = follow(slot, records)
    assert applied == 1 and slot.current.version == 4
    assert dead == [
        "unknown_key",
        "bad_signature",
        "unsigned",
        "undecodable",
        "version_invalid",
    ]  # the replay is counted, not dead-lettered
    replayed = registry.get_sample_value(
        "queen_inference_promotions_rejected_total", {"reason": "replayed"}
    )
    assert replayed == 1


def test_a_promotion_whose_version_is_not_the_one_it_names_is_refused():
    slot, _ = gated()
    mismatched = promotion(version(6, seed=5), version_record=CODEC.encode(version(8)))
    applied, dead = follow(slot, [mismatched])
    assert (applied, dead) == (0, ["version_mismatch"])
    assert slot.current.version == 0


def test_immediate_mode_honours_a_rollback_and_never_serves_the_withdrawn_version_again():
    slot = ModelSlot(initial_model(0), None, ServingMode.IMMEDIATE)
    assert slot.offer(version(3)) and slot.offer(version(1000, seed=9))
    assert slot.current.version == 1000
    back = promotion(
        version(3), kind=PromotionKind.ROLLBACK, mode=ServingMode.IMMEDIATE, previous_version=1000
    )
    assert follow(slot, [back]) == (1, [])
    assert slot.current.version == 3
    assert not slot.offer(version(1000, seed=9))
    assert slot.offer(version(4)) and slot.current.version == 4


@pytest.mark.parametrize("mode", ["gated", "manual"])
def test_gated_and_manual_inference_need_the_promoter_keys(mode):
    from consumers.inference.settings import InferenceSettings
    from runtime.errors import SettingsError

    env = {"QUEEN_TRUSTED_KEYS": "k", "QUEEN_SERVING_MODE": mode}
    with pytest.raises(SettingsError, match="QUEEN_TRUSTED_PROMOTER_KEYS"):
        InferenceSettings.from_env(env)
    with pytest.raises(SettingsError, match="QUEEN_SERVING_MODE='sometimes'"):
        InferenceSettings.from_env({**env, "QUEEN_SERVING_MODE": "sometimes"})


def test_gated_is_the_default_and_refuses_to_start_without_the_promoter_keys():
    from consumers.inference.settings import InferenceSettings
    from runtime.errors import SettingsError

    with pytest.raises(SettingsError, match="QUEEN_SERVING_MODE=gated"):
        InferenceSettings.from_env({"QUEEN_TRUSTED_KEYS": "k"})
    keys = {"QUEEN_TRUSTED_KEYS": "k", "QUEEN_TRUSTED_PROMOTER_KEYS": "p"}
    assert InferenceSettings.from_env(keys).serving_mode == "gated"


@pytest.mark.parametrize("mode", ["gated", "manual"])
def test_versions_evaluated_before_serving_need_a_policy_that_explores(mode):
    """Epsilon 0 logs only the greedy action: inference and the promoter refuse it at start."""
    from consumers.inference.settings import InferenceSettings
    from consumers.promoter.settings import PromoterSettings
    from runtime.errors import SettingsError

    keys = {
        "QUEEN_TRUSTED_KEYS": "k",
        "QUEEN_TRUSTED_PROMOTER_KEYS": "p",
        "QUEEN_PROMOTER_SIGNING_KEY_FILE": "s",
        "QUEEN_SERVING_MODE": mode,
    }
    greedy = {**keys, "QUEEN_INFERENCE_EPSILON": "0"}
    for settings in (InferenceSettings, PromoterSettings):
        with pytest.raises(SettingsError, match=f"QUEEN_INFERENCE_EPSILON=0.0: .*={mode}"):
            settings.from_env(greedy)
        assert settings.from_env({**greedy, "QUEEN_SERVING_MODE": "immediate"}).epsilon == 0
        softmax = settings.from_env({**greedy, "QUEEN_INFERENCE_EXPLORATION": "softmax"})
        assert softmax.exploration == "softmax"
