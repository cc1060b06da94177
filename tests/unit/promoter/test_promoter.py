"""The promoter's decisions on a window of logged experiences (no broker): a bad version is
never promoted in gated mode, a good one is, and in immediate mode a bad served version is
rolled back to the one before it, with the evidence in a promoter-signed promotion."""

import dataclasses

import numpy as np
import pytest
import torch

from consumers.promoter.handler import Decide, Known, PromoterHandler
from consumers.promoter.window import Window
from queen.gate import expected_table
from queen.model import initial_model
from queen.policy import ExplorationConfig
from queen.rules import N_TYPES, RULE_SETS, SPAWN_TYPES
from runtime.handler import Incoming
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import PromotionKind, ServingMode, SpawnType
from schemas.records import Action, Experience
from tests import keys, samples
from tests.fakes import MessageStub

CODEC = AvroSingleObjectCodec.default()
FEATURES = samples.decision().features
Q = expected_table(np.asarray([FEATURES], np.float32), RULE_SETS[1])[0]


def constant(prefer: int, seed: int) -> Known:
    """A valid version whose values put `prefer` first whatever the context."""
    model = initial_model(seed)
    last = model.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.full((32,), -1.0))
        last.bias[prefer] = 1.0
    record = keys.signer().sign(samples.loadable_version(seed, created_at=0))
    return Known(record, model)


GOOD, BAD = int(Q.argmax()), int(Q.argmin())


def experiences(n: int, seed: int = 0) -> list[Experience]:
    rng = np.random.default_rng(seed)
    out = []
    for i, a in enumerate(rng.integers(0, 32, n).tolist()):
        decision = samples.decision(
            seq=i,
            action=Action(a // N_TYPES, SpawnType(SPAWN_TYPES[a % N_TYPES])),
            action_probability=1 / 32,
        )
        reward = float(Q[a] + rng.normal(0, 0.05))
        out.append(dataclasses.replace(samples.experience(), decision=decision, reward=reward))
    return out


class Versions:
    def __init__(self, arrived, served=None, previous=None):
        self._arrived, self._served, self._previous = arrived, served, previous

    def arrived(self):
        return self._arrived

    def served(self):
        return self._served, self._previous

    def withdrawn(self):
        return set()

    def last_promotion_at(self):
        return -1


def handler(versions, mode: ServingMode) -> PromoterHandler:
    h = PromoterHandler(
        "queen",
        versions,
        Window(500),
        Decide(mode, min_samples=100, tolerance=0.05, rollback_margin=0.1),
        ExplorationConfig("epsilon", 0.1, 0.1),
        keys.promoter_signer().sign_promotion,
        CODEC,
        "queen.promotions",
        wall_us=lambda: 1_800_000_000_000_000,
    )
    batch = [Incoming(e, MessageStub("x", b"", 0, i)) for i, e in enumerate(experiences(400))]
    assert h.handle(batch, 0.0) == []
    return h


def test_gated_never_promotes_a_bad_candidate_and_promotes_a_good_one():
    good, bad = constant(GOOD, 3), constant(BAD, 4)
    assert handler(Versions([good, bad], served=good), ServingMode.GATED).on_tick(1.0) == []
    out = handler(Versions([bad, good], served=bad), ServingMode.GATED).on_tick(1.0)
    assert len(out) == 1 and out[0].topic == "queen.promotions" and out[0].key == b"queen"
    promotion = out[0].record
    keys.promoter_verifier().verify_promotion(promotion)
    assert promotion.kind is PromotionKind.PROMOTE and promotion.model_version == 3
    assert promotion.previous_version == 4
    assert CODEC.decode(promotion.version_record, type(good.record)) == good.record
    evidence = promotion.evidence
    assert evidence is not None and evidence.method == "dr"
    assert evidence.value > evidence.baseline_value + 0.1


def test_too_few_samples_decide_nothing():
    good, bad = constant(GOOD, 3), constant(BAD, 4)
    h = handler(Versions([bad, good], served=bad), ServingMode.GATED)
    h.decide = dataclasses.replace(h.decide, min_samples=1000)
    assert h.on_tick(1.0) == []


def test_immediate_mode_rolls_a_bad_served_version_back_to_the_previous_one():
    good, bad = constant(GOOD, 3), constant(BAD, 1000)
    out = handler(Versions([good, bad]), ServingMode.IMMEDIATE).on_tick(1.0)
    assert [o.record.kind for o in out] == [PromotionKind.ROLLBACK]
    rollback = out[0].record
    assert (rollback.model_version, rollback.previous_version) == (3, 1000)
    keys.promoter_verifier().verify_promotion(rollback)
    # a good newest version is not rolled back
    assert handler(Versions([bad, constant(GOOD, 1001)]), ServingMode.IMMEDIATE).on_tick(1) == []


@pytest.mark.parametrize("mode", [ServingMode.GATED, ServingMode.MANUAL])
def test_nothing_more_is_decided_until_the_promotion_is_read_back(mode):
    good, bad = constant(GOOD, 3), constant(BAD, 4)
    h = handler(Versions([bad, good], served=bad), mode)
    first = h.on_tick(1.0)
    assert len(first) == (1 if mode is ServingMode.GATED else 0)
    assert h.on_tick(2.5) == []  # awaiting the read-back (or manual: never decides)
