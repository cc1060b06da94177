"""Promotion on the whole loop: a deliberately bad but valid, correctly signed version (weights
that always pick the action the gate expects worst on the contexts the loop saw) published
while the loop runs is scored and never served in gated mode, and in immediate mode is served
and then rolled back by the promoter, on the realized reward of its own decisions, within
ROLLBACK_WITHIN_S."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from queen.gate import expected_table
from queen.rules import RULE_SETS
from queen.weights import load_weights
from runtime.kafka import make_producer
from runtime.signing import Signer, load_private_key
from schemas.codec import AvroSingleObjectCodec
from schemas.records import ModelVersion, Promotion
from tests.e2e.harness import LoopHarness, decisions_of
from tests.integration.kafka_helpers import wait_for
from tests.samples import derived_version

pytestmark = pytest.mark.e2e
CODEC = AvroSingleObjectCodec.default()
ROLLBACK_WITHIN_S = 30.0
BASELINE_ROWS = 300  # the good version's own rows before the bad one: 3 x the harness's min_samples
GOOD_AFTER = 10  # versions trained (one per 0.5 s) before the good version is taken


@pytest.fixture
def loop(kafka, tmp_path):
    harness = LoopHarness(kafka.bootstrap_servers, tmp_path)
    yield harness
    harness.stop_all()


def start(loop: LoopHarness, mode: str) -> None:
    env = {"QUEEN_SERVING_MODE": mode, **loop.promoter_keys}
    loop.start("inference", **env)
    loop.start("joiner")
    loop.start("trainer", QUEEN_TRAINER_TRAINING_INTERVAL="0.5")
    loop.start("promoter", **env)
    wait_for(lambda: all(loop.metrics(n) for n in loop.processes), 60, "services' /metrics")
    loop.start("game", "--ticks", "1000", "--speed", "40")


def served(loop: LoopHarness) -> float:
    return loop.metric("inference", "queen_inference_served_model_version") or 0


def newest_version(loop: LoopHarness) -> ModelVersion:
    reader = loop.reader("model-versions")
    records = [CODEC.decode(m.value(), ModelVersion) for m in reader.poll()]
    return max(records, key=lambda v: v.version)


def bad_version(loop: LoopHarness, of: ModelVersion, number: int) -> ModelVersion:
    """Valid weights of `of`'s architecture that always put the worst expected action first."""
    model = load_weights(of.weights, of.sha256, of.architecture_fingerprint, of.feature_fingerprint)
    seen = decisions_of(loop.reader("decisions"))[-500:]
    features = np.asarray([d.features for d in seen], np.float32)
    worst = int(expected_table(features, RULE_SETS[1]).mean(axis=0).argmin())
    with torch.no_grad():
        model.net[-1].weight.zero_()
        model.net[-1].bias.fill_(-1.0)
        model.net[-1].bias[worst] = 1.0
    record = derived_version(of, model, number)
    return Signer(load_private_key(loop.keys["QUEEN_SIGNING_KEY_FILE"])).sign(record)


def publish(loop: LoopHarness, version: ModelVersion) -> None:
    producer = make_producer(loop.settings)
    producer.produce(loop.topic("model-versions"), CODEC.encode(version), b"queen")
    assert producer.flush(10) == 0


def estimate(loop: LoopHarness, role: str, bound: str) -> float | None:
    return loop.metric("promoter", "queen_promoter_estimate_reward", role=role, bound=bound)


def promoter_state(loop: LoopHarness) -> dict[object, float]:
    return {k: v for k, v in loop.metrics("promoter").items() if "queen_promoter" in k[0]}


def own_rows(loop: LoopHarness, version: ModelVersion) -> float:
    """Rows in the promoter's window that `version`, served, logged itself (0 if not served).

    The served version's estimate on its own rows has every weight 1: its effective n is n.
    """
    if loop.metric("promoter", "queen_promoter_model_version", role="served") != version.version:
        return 0
    return loop.metric("promoter", "queen_promoter_effective_samples", role="served") or 0


def promotions(loop: LoopHarness) -> list[Promotion]:
    return [CODEC.decode(m.value(), Promotion) for m in loop.reader("promotions").poll()]


def test_gated_a_bad_version_is_scored_and_never_served(loop):
    start(loop, "gated")
    wait_for(lambda: served(loop) > 0, 90, "a trained version promoted and served")
    loop.kill("trainer")  # the bad version stays the newest arrival: scored every tick
    good = newest_version(loop)
    bad = bad_version(loop, good, good.version + 1000)
    publish(loop, bad)

    def scored() -> bool:
        role = loop.metric("promoter", "queen_promoter_model_version", role="candidate")
        return role == bad.version

    wait_for(scored, 30, "the bad version scored as the candidate")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # scored every 0.5 s for 10 s, never promoted
        assert served(loop) != bad.version
        time.sleep(0.5)
    lower = estimate(loop, "candidate", "lower")
    value = estimate(loop, "served", "value")
    assert lower is not None and value is not None and lower < value
    assert all(p.model_version != bad.version for p in promotions(loop))
    decisions = decisions_of(loop.reader("decisions"))
    assert decisions and all(d.model_version != bad.version for d in decisions)


def test_immediate_a_bad_version_is_served_then_rolled_back(loop):
    start(loop, "immediate")
    # The rollback compares the bad version's decisions with those before it, so the version
    # before must be good: trained for GOOD_AFTER versions, then a baseline of its own
    # decisions. The first trained version, or the seeded version 0, was often no better
    # than the bad one (gate agreement 0.125 against ~0.05, within the 0.1 margin; realized
    # reward worse, as the gate turns the bad version's actions into WAIT): the promoter
    # rightly did not roll back, and the test failed 1 run in 3.
    wait_for(lambda: served(loop) >= GOOD_AFTER, 90, "a trained version served")
    loop.kill("trainer")  # the bad version stays the newest: nothing supersedes it
    good = newest_version(loop)
    wait_for(lambda: served(loop) == good.version, 20, "the newest good version served")
    wait_for(lambda: own_rows(loop, good) >= BASELINE_ROWS, 30, "the good version's own rows")
    bad = bad_version(loop, good, good.version + 1)
    publish(loop, bad)
    wait_for(lambda: served(loop) == bad.version, 20, "the bad version served (immediate)")
    started = time.monotonic()

    def rolled_back() -> list[Promotion]:
        return [p for p in promotions(loop) if p.previous_version == bad.version]

    try:
        wait_for(rolled_back, ROLLBACK_WITHIN_S, "the bad version rolled back", every=0.5)
    except AssertionError as exc:
        state = {k: v for k, v in promoter_state(loop).items() if v and "created" not in k[0]}
        raise AssertionError(f"{exc}; promoter: {state}\n{loop.log('promoter')[-3000:]}") from None
    took = time.monotonic() - started
    [rollback] = rolled_back()
    assert rollback.kind.value == "ROLLBACK" and rollback.model_version == good.version
    evidence = rollback.evidence
    assert evidence is not None and evidence.method in ("realized", "agreement"), rollback
    assert evidence.value > evidence.baseline_upper, evidence  # the rows before were better
    wait_for(lambda: served(loop) == good.version, 10, "the good version served again")
    withdrawn_at = loop.metric("inference", "queen_inference_served_model_version")
    assert withdrawn_at == good.version
    print(f"rolled back {took:.1f} s after the bad version was served: {rollback.reason}")
