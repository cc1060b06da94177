import dataclasses
import time

import numpy as np
from prometheus_client import CollectorRegistry

from consumers.inference.handler import InferenceHandler
from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot
from queen.model import initial_model
from queen.policy import ExplorationPolicy
from runtime.loop import Incoming, Outgoing, Rejected
from schemas.enums import GateDecision
from schemas.records import ModelVersion, TrainingSummary
from tests import samples
from tests.fakes import MessageStub


def version(n: int, seed: int = 5, **changes) -> ModelVersion:
    return samples.loadable_version(n, seed, **changes)


def make(slot=None):
    registry = CollectorRegistry()
    metrics = InferenceMetrics.create(registry)
    slot = slot or ModelSlot(initial_model(0), metrics)
    return InferenceHandler(slot, ExplorationPolicy(seed=1), "dec", 0.0, metrics), registry


def test_one_decision_per_observation_of_known_rules_at_once():
    handler, registry = make()
    good = [samples.observation(t, 3) for t in range(3)] + [
        samples.observation(99, 3),  # territories are opaque: any id the contract allows
        samples.observation(1, 3, territory_id="castle north"),
    ]
    unknown = [samples.observation(2, 3, rules_version=7)]  # waits for its rules: not refused
    batch = [Incoming(o, MessageStub("obs", b"", 0, i)) for i, o in enumerate(good + unknown)]
    out = handler.handle(batch, 0.0)
    outgoing = [o for o in out if isinstance(o, Outgoing)]
    decisions = [o.record for o in outgoing]
    assert not [o for o in out if isinstance(o, Rejected)]
    assert [d.observation_id for d in decisions] == [o.observation_id for o in good]
    assert all(o.key == o.record.territory_id.encode() and o.topic == "dec" for o in outgoing)
    assert len(handler.waiting) == 1
    for d in decisions:
        d.validate()
        assert d.model_version == 0 and d.seq == 3 and len(d.features) == 28
        assert d.gate_version.startswith("gate-r1")
    sent = registry.get_sample_value("queen_inference_decisions_total", {"gate": "SEND"}) or 0
    waited = registry.get_sample_value("queen_inference_decisions_total", {"gate": "WAIT"}) or 0
    assert sent + waited == 5
    assert {d.gate_decision for d in decisions} <= {GateDecision.SEND, GateDecision.WAIT}


def test_the_slot_swaps_in_valid_newer_versions_and_refuses_the_rest():
    registry = CollectorRegistry()
    metrics = InferenceMetrics.create(registry)
    slot = ModelSlot(initial_model(0), metrics)
    first = slot.current
    assert not slot.offer(version(2, sha256="0" * 64))
    assert not slot.offer(version(2, architecture_fingerprint="other"))
    assert not slot.offer(version(2, feature_fingerprint="other"))
    assert slot.current is first
    assert slot.offer(version(2))
    assert slot.current.version == 2
    assert not slot.offer(version(1))
    assert slot.current.version == 2
    reasons = {
        r: registry.get_sample_value("queen_inference_model_versions_rejected_total", {"reason": r})
        for r in ("sha256", "architecture", "feature", "stale")
    }
    assert reasons == {"sha256": 1, "architecture": 1, "feature": 1, "stale": 1}
    assert registry.get_sample_value("queen_inference_served_model_version") == 2


def test_a_batch_is_decided_with_one_version_even_if_a_swap_happens():
    handler, _ = make()
    obs = [samples.observation(t, 0) for t in range(3)]
    batch = [Incoming(o, MessageStub("obs", b"", 0, i)) for i, o in enumerate(obs)]
    handler.slot.offer(version(4))
    versions = {o.record.model_version for o in handler.handle(batch, 0.0)}
    assert versions == {4}
    features = np.array([o.record.features for o in handler.handle(batch, 0.0)])
    assert ((features >= 0) & (features <= 1)).all()
    assert dataclasses.is_dataclass(handler.slot.current)


def test_freshness_is_observed_once_per_reward_at_the_first_batch_served_with_its_training():
    registry = CollectorRegistry()
    metrics = InferenceMetrics.create(registry)
    slot = ModelSlot(initial_model(0), metrics)
    handler = InferenceHandler(slot, ExplorationPolicy(seed=0), "decisions", 0.0, metrics)
    now = time.time_ns() // 1000

    def trained_on(*ages_s: float) -> TrainingSummary:
        times = tuple(now - int(a * 1e6) for a in ages_s)
        return TrainingSummary(1, 0.1, 32, 0.001, 1.0, first_use_reward_emitted_at=times)

    def observed() -> tuple[float, float]:
        name = "queen_inference_reward_to_serving_seconds"
        return (
            registry.get_sample_value(f"{name}_count") or 0.0,
            registry.get_sample_value(f"{name}_sum") or 0.0,
        )

    batch = [Incoming(samples.observation(1, 0), MessageStub("obs", b"", 0, 0))]
    assert slot.offer(version(1, training=trained_on(2.0, 3.0)))
    assert slot.offer(version(2, training=trained_on(1.0)))  # swapped before any decision
    handler.handle(batch, 0.0)
    count, total = observed()
    assert count == 3 and 6.0 <= total < 6.0 + 3 * 5.0  # each measured up to this decision
    handler.handle(batch, 0.0)
    assert observed()[0] == 3, "the same version again observes nothing"
    assert slot.offer(version(3, training=trained_on(0.5)))
    handler.handle(batch, 0.0)
    assert observed()[0] == 4


def test_a_version_being_loaded_never_holds_up_a_decision(monkeypatch):
    """The reader loads the next version while inference decides: no lock, no wait."""
    import threading

    import consumers.inference.model_slot as model_slot

    release, loading = threading.Event(), threading.Event()
    real_load = model_slot.load_weights

    def slow_load(*args, **kwargs):
        loading.set()
        release.wait(30)  # a load that takes as long as the test lets it
        return real_load(*args, **kwargs)

    monkeypatch.setattr(model_slot, "load_weights", slow_load)
    handler, _ = make()
    swap = threading.Thread(target=handler.slot.offer, args=(version(7),))
    swap.start()
    assert loading.wait(10)
    batch = [Incoming(samples.observation(t, 0), MessageStub("obs", b"", 0, t)) for t in range(4)]
    started = time.perf_counter()
    decided = handler.handle(batch, 0.0)
    took = time.perf_counter() - started
    release.set()
    swap.join(10)
    assert [d.record.model_version for d in decided] == [0] * 4 and took < 5.0
    assert {d.record.model_version for d in handler.handle(batch, 0.0)} == {7}
