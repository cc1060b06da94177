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
from schemas.enums import GateDecision, PromotionKind, ServingMode, SpawnType
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


def experiences(
    n: int, version: int, seed: int = 0, prefer: int | None = None, send: float = 1.0
) -> list[Experience]:
    """`n` decisions logged by `version`: uniformly random, or ε-greedy on `prefer`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a = int(rng.integers(0, 32))
        if prefer is not None and rng.random() < 0.9:
            a = prefer
        p = 1 / 32 if prefer is None else (0.9 + 0.1 / 32 if a == prefer else 0.1 / 32)
        decision = samples.decision(
            seq=i,
            action=Action(a // N_TYPES, SpawnType(SPAWN_TYPES[a % N_TYPES])),
            action_probability=p,
            model_version=version,
            gate_decision=GateDecision.SEND if rng.random() < send else GateDecision.WAIT,
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


def handler(versions, mode: ServingMode, logged=None) -> PromoterHandler:
    """A handler whose window holds `logged` (default: 400 rows the served version logged)."""
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
    if logged is None:
        served = versions.served()[0] or versions.arrived()[-1]
        logged = experiences(400, served.record.version)
    batch = [Incoming(e, MessageStub("x", b"", 0, i)) for i, e in enumerate(logged)]
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
    logged = experiences(300, 3, prefer=GOOD) + experiences(300, 1000, seed=1, prefer=BAD)
    out = handler(Versions([good, bad]), ServingMode.IMMEDIATE, logged).on_tick(1.0)
    assert [o.record.kind for o in out] == [PromotionKind.ROLLBACK]
    rollback = out[0].record
    assert (rollback.model_version, rollback.previous_version) == (3, 1000)
    keys.promoter_verifier().verify_promotion(rollback)
    evidence = rollback.evidence
    assert evidence is not None and evidence.method == "realized"
    assert evidence.value > evidence.baseline_upper + 0.1  # the rows before beat the served's
    # a good newest version is not rolled back
    better = experiences(300, 1000, prefer=BAD) + experiences(300, 1001, seed=1, prefer=GOOD)
    h = handler(Versions([bad, constant(GOOD, 1001)]), ServingMode.IMMEDIATE, better)
    assert h.on_tick(1) == []


def test_a_rollback_waits_for_enough_of_the_served_versions_own_decisions():
    good, bad = constant(GOOD, 3), constant(BAD, 1000)
    logged = experiences(300, 3, prefer=GOOD) + experiences(99, 1000, seed=1, prefer=BAD)
    assert handler(Versions([good, bad]), ServingMode.IMMEDIATE, logged).on_tick(1.0) == []
    logged += experiences(1, 1000, seed=2, prefer=BAD)
    assert handler(Versions([good, bad]), ServingMode.IMMEDIATE, logged).on_tick(1.0) != []


def test_a_version_the_gate_keeps_refusing_is_rolled_back_on_agreement():
    """Same rewards (the gate's WAIT hides a bad action), far fewer actions sent."""
    good, bad = constant(GOOD, 3), constant(BAD, 1000)
    logged = experiences(300, 3, send=0.8) + experiences(300, 1000, seed=1, send=0.3)
    [out] = handler(Versions([good, bad]), ServingMode.IMMEDIATE, logged).on_tick(1.0)
    assert out.record.kind is PromotionKind.ROLLBACK and out.record.model_version == 3
    assert out.record.evidence is not None and out.record.evidence.method == "agreement"
    same = experiences(300, 3, send=0.8) + experiences(300, 1000, seed=1, send=0.75)
    assert handler(Versions([good, bad]), ServingMode.IMMEDIATE, same).on_tick(1.0) == []


def test_the_gate_scores_on_the_served_versions_own_decisions_only():
    good, bad = constant(GOOD, 3), constant(BAD, 4)
    h = handler(Versions([bad, good], served=bad), ServingMode.GATED, experiences(400, 7))
    assert h.on_tick(1.0) == []  # no row logged by the served version: nothing to score on


@pytest.mark.parametrize("mode", [ServingMode.GATED, ServingMode.MANUAL])
def test_nothing_more_is_decided_until_the_promotion_is_read_back(mode):
    good, bad = constant(GOOD, 3), constant(BAD, 4)
    h = handler(Versions([bad, good], served=bad), mode)
    first = h.on_tick(1.0)
    assert len(first) == (1 if mode is ServingMode.GATED else 0)
    assert h.on_tick(2.5) == []  # awaiting the read-back (or manual: never decides)


def test_inference_shadow_of_the_candidate_is_checked_against_the_promoters_own_scoring():
    """The promoter scores with its own forward pass; a shadow that disagrees is counted."""
    from prometheus_client import CollectorRegistry

    from consumers.promoter.metrics import PromoterMetrics
    from queen.policy import action_probabilities

    good, bad = constant(GOOD, 3), constant(BAD, 4)
    with torch.no_grad():
        values = good.model(torch.tensor([FEATURES], dtype=torch.float32)).numpy()
    ours = action_probabilities(values, ExplorationConfig("epsilon", 0.1, 0.1))[0]
    other = np.full(32, 1 / 32)  # what an inference exploring differently would log
    logged = []
    for i, e in enumerate(experiences(400, 4)):
        probs = ours if i % 4 else other
        shadow = samples.shadow(3, GOOD)
        shadow = dataclasses.replace(shadow, probabilities=tuple(float(p) for p in probs))
        logged.append(
            dataclasses.replace(e, decision=dataclasses.replace(e.decision, shadow=shadow))
        )
    h = handler(Versions([bad, good], served=bad), ServingMode.GATED, logged)
    registry = CollectorRegistry()
    h.metrics = PromoterMetrics.create(registry)
    h.on_tick(1.0)
    count = lambda outcome: registry.get_sample_value(  # noqa: E731
        "queen_promoter_shadow_rows_total", {"outcome": outcome}
    )
    assert (count("agree"), count("mismatch")) == (300, 100)
