"""Patch day as data: a rule set published while inference runs gates its decisions in seconds.

A real inference process on the embedded broker. Rules version 1 is published before it starts;
then, mid-run, version 5 (the patch) is published and observations under it follow at once, as
the game does: their decisions must be gated under version 5 (not by the unknown-rules policy)
within a deadline, and the seconds from publication to the first such decision are the figure
docs/architecture.md reports. An observation that arrives *before* its rule set waits for it;
a stranger's rewrite of version 5 is refused, counted and dead-lettered, and changes nothing.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from queen.rules import RULES_V1, RULES_V2
from runtime.kafka import make_producer
from runtime.rule_book import record_of, rules_key
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import ErrorKind
from schemas.records import DeadLetter
from tests import samples
from tests.e2e.harness import LoopHarness, decisions_of
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.integration
CODEC = AvroSingleObjectCodec.default()
DEADLINE_S = 5.0  # publication -> first decision gated under it, at most (measured: ~0.1-0.3 s)


def now_us() -> int:
    return time.time_ns() // 1000


@pytest.fixture
def loop(kafka, tmp_path):
    harness = LoopHarness(kafka.bootstrap_servers, tmp_path, partitions=2)
    yield harness
    harness.stop_all()


def test_a_rule_set_published_mid_run_gates_decisions_within_seconds(loop):
    producer = make_producer(loop.settings)
    rules_topic, observations = loop.topic("rules"), loop.topic("observations")

    def publish(record):
        producer.produce(rules_topic, CODEC.encode(record), rules_key(record.rules_version))
        producer.flush(10)

    def observe(territory, seq, version):
        obs = samples.observation(territory, seq, rules_version=version, emitted_at=now_us())
        producer.produce(observations, CODEC.encode(obs), obs.territory_id.encode())
        return obs.observation_id

    publish(record_of(RULES_V1, "game", now_us()))
    loop.start("inference", QUEEN_RULES_WAIT_S="10")
    wait_for(lambda: loop.metrics("inference"), 60, "inference metrics")
    reader = loop.reader("decisions")

    def decided(ids):
        by_id = {d.observation_id: d for d in decisions_of(reader)}
        return [by_id[i] for i in ids] if all(i in by_id for i in ids) else None

    before = [observe(t, 0, 1) for t in range(4)]
    producer.flush(10)
    assert {d.gate_version for d in wait_for(lambda: decided(before), 30, "v1 decisions")} == {
        "gate-r1-t0"
    }

    # Patch day: version 5 published, its observations right behind it.
    patch = record_of(dataclasses.replace(RULES_V2, version=5), "balance-team", now_us())
    publish(patch)
    after = [observe(t, 1, 5) for t in range(4)]
    producer.flush(10)
    patched = wait_for(lambda: decided(after), DEADLINE_S, "decisions gated under version 5")
    assert {d.gate_version for d in patched} == {"gate-r5-t0"}
    seconds = (min(d.decided_at for d in patched) - patch.published_at) / 1e6
    print(f"\nrule set published -> first decision gated under it: {seconds:.3f} s")
    assert 0 <= seconds < DEADLINE_S

    # Observations first, their rule set 0.5 s later: they wait for it (QUEEN_RULES_WAIT_S=10).
    early = [observe(t, 2, 6) for t in range(2)]
    producer.flush(10)
    wait_for(
        lambda: loop.metric("inference", "queen_inference_observations_waiting_for_rules") == 2,
        10,
        "two observations waiting for version 6",
    )
    publish(record_of(dataclasses.replace(RULES_V2, version=6), "game", now_us()))
    waited = wait_for(lambda: decided(early), 10, "decisions gated under version 6")
    assert {d.gate_version for d in waited} == {"gate-r6-t0"}
    learnt = loop.metric("inference", "queen_inference_unknown_rules_total", outcome="learnt")
    assert learnt is not None and learnt >= 2
    assert loop.metric("inference", "queen_inference_unknown_rules_total", outcome="policy") == 0

    # A stranger rewrites version 5: refused, counted, dead-lettered; the gate keeps the first.
    publish(dataclasses.replace(patch, kill=(1.0, 1.0, 1.0, 1.0), publisher="stranger"))
    wait_for(
        lambda: (
            loop.metric(
                "inference", "queen_rules_refused_total", service="inference", reason="conflict"
            )
            == 1
        ),
        10,
        "the rewrite refused",
    )
    again = [observe(t, 3, 5) for t in range(2)]
    producer.flush(10)
    assert {d.gate_version for d in wait_for(lambda: decided(again), 10, "v5 again")} == {
        "gate-r5-t0"
    }
    letters = [CODEC.decode(m.value(), DeadLetter) for m in loop.reader("dead-letters").until(1)]
    assert [(d.source_topic, d.error_kind) for d in letters] == [
        (rules_topic, ErrorKind.INVALID_EVENT)
    ]
    assert "immutable per version" in letters[0].message
    assert loop.stop_all() == {"inference": 0}


def test_with_trusted_rule_keys_inference_gates_only_under_signed_rule_sets(loop, tmp_path):
    from runtime.rule_signing import sign_rules
    from runtime.signing import keygen, load_private_key

    private_path, public_path = keygen(str(tmp_path / "game-keys"))
    game_key = load_private_key(str(private_path))
    producer = make_producer(loop.settings)

    def publish(record):
        value = CODEC.encode(record)
        producer.produce(loop.topic("rules"), value, rules_key(record.rules_version))
        producer.flush(10)

    publish(record_of(RULES_V1, "stranger", now_us()))  # unsigned: refused
    publish(sign_rules(game_key, record_of(RULES_V1, "game", now_us())))
    loop.start(
        "inference", QUEEN_RULES_TRUSTED_KEYS=str(public_path.parent), QUEEN_RULES_WAIT_S="10"
    )
    wait_for(lambda: loop.metrics("inference"), 60, "inference metrics")
    obs = samples.observation(1, 0, emitted_at=now_us())
    producer.produce(loop.topic("observations"), CODEC.encode(obs), obs.territory_id.encode())
    producer.flush(10)
    reader = loop.reader("decisions")
    (decision,) = wait_for(lambda: decisions_of(reader), 30, "a decision")
    assert decision.gate_version == "gate-r1-t0"

    def refused(reason):
        return loop.metric(
            "inference", "queen_rules_refused_total", service="inference", reason=reason
        )

    assert refused("unsigned") == 1 and refused("conflict") == 0
    assert loop.stop_all() == {"inference": 0}
