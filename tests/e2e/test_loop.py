"""The whole loop on a real broker: game, inference, joiner and trainer as processes."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from runtime.kafka import make_producer
from runtime.signing import Signer, load_private_key
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import ErrorKind, GateDecision
from schemas.records import DeadLetter, Experience, ModelVersion
from tests import keys, samples
from tests.e2e.harness import LoopHarness, decisions_of, observations_of
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.e2e
CODEC = AvroSingleObjectCodec.default()
TICKS = 40
SPEED = "40"  # a tick every 0.375 s of wall time


@pytest.fixture
def loop(kafka, tmp_path):
    harness = LoopHarness(kafka.bootstrap_servers, tmp_path)
    yield harness
    harness.stop_all()


def start_loop(loop: LoopHarness, *, inference: int = 1) -> None:
    loop.start("inference")
    if inference == 2:
        loop.start("inference-2")
    loop.start("joiner")
    loop.start("trainer")
    loop.start("promoter")  # inference serves promoted versions (gated, the default)
    wait_for(lambda: all(loop.metrics(n) for n in loop.processes), 60, "services to serve /metrics")
    loop.start("game", "--ticks", str(TICKS), "--speed", SPEED)


def wait_for_game(loop: LoopHarness, timeout: float = 120) -> None:
    game = loop.processes["game"]
    wait_for(lambda: game.poll() is not None, timeout, "the game to play its ticks")
    assert game.returncode == 0, loop.log("game")


def decided_with_rewards(loop: LoopHarness) -> dict[str, object]:
    """decision_id -> decision, for every decision whose tick got a reward (seq < TICKS)."""
    reader = loop.reader("decisions")
    reader.until(TICKS * loop.territories, timeout=60)
    # t-0999 is a stranger's observation (unknown rules, no game behind it): not the game's
    return {
        d.decision_id: d
        for d in decisions_of(reader)
        if d.seq < TICKS and d.territory_id != "t-0999"
    }


def assert_every_decision_taken_exactly_once(loop: LoopHarness) -> None:
    decided = decided_with_rewards(loop)
    assert len(decided) >= TICKS * loop.territories * 0.9
    wait_for(lambda: set(decided) <= set(loop.taken()), 60, "the trainer to take every decision")
    everything = decisions_of(loop.reader("decisions"))
    strangers = {d.decision_id for d in everything if d.territory_id == "t-0999"}
    taken = [d for d in loop.taken() if d not in strangers]  # the joiner's business
    duplicates = [d for d, n in Counter(taken).items() if n > 1]
    assert duplicates == [], "a decision was trained twice"
    assert set(taken) == set(decided), "only decisions whose tick got a reward are joined"


def test_the_loop_end_to_end(loop):
    start_loop(loop)
    producer = make_producer(loop.settings)
    bad = [
        (b"t-0001", b"\x00not avro at all"),
        (b"t-0999", CODEC.encode(samples.observation(999, 1, rules_version=99))),  # no such rules
        (b"t-0003", b"\xc3\x01" + bytes(8) + b"\x00"),  # unknown fingerprint
    ]
    wait_for(lambda: (loop.metric("game", "queen_game_ticks_total") or 0) >= 5, 60, "5 ticks")
    for key, value in bad:
        producer.produce(loop.topic("observations"), value, key)
    producer.flush(10)
    wait_for_game(loop)

    obs_reader = loop.reader("observations")
    obs_reader.until((TICKS + 1) * loop.territories + len(bad))
    good = [o for o in observations_of(obs_reader) if o.territory_id != "t-0999"]
    assert len(good) == (TICKS + 1) * loop.territories
    stranger = next(o for o in observations_of(obs_reader) if o.territory_id == "t-0999")
    reader = loop.reader("decisions")
    wait_for(lambda: len(decisions_of(reader)) > len(good), 60, "a decision per observation")
    per_observation = Counter(d.observation_id for d in decisions_of(reader))
    assert set(per_observation) == {o.observation_id for o in good} | {stranger.observation_id}
    assert set(per_observation.values()) == {1}, "every observation gets exactly one decision"
    # rules no rule set was published for: decided after QUEEN_RULES_WAIT_S under the policy
    (unknown,) = [d for d in decisions_of(reader) if d.observation_id == stranger.observation_id]
    assert unknown.gate_decision is GateDecision.WAIT and unknown.gate_version == "no-rules-r99"
    assert loop.metric("inference", "queen_inference_unknown_rules_total", outcome="policy") == 1
    assert {d.gate_version for d in decisions_of(reader) if d.territory_id != "t-0999"} == {
        "gate-r1-t0"
    }, "the game's own rule set, published on queen.rules, gates its observations"

    assert_every_decision_taken_exactly_once(loop)

    versions = [CODEC.decode(m.value(), ModelVersion) for m in loop.reader("model-versions").poll()]
    numbers = [v.version for v in versions]
    assert len(numbers) >= 3 and numbers == sorted(set(numbers)) and numbers[0] == 1
    decisions = decisions_of(reader)
    served = [d for d in decisions if d.model_version > 0]
    assert served, "decisions must come to carry trained versions"
    first_served = min(served, key=lambda d: d.decided_at)
    published = next(v for v in versions if v.version == first_served.model_version)
    # the first version ever served (promoted) was used within seconds of its publication
    assert (first_served.decided_at - published.created_at) / 1e6 < 5.0

    letters = [CODEC.decode(m.value(), DeadLetter) for m in loop.reader("dead-letters").until(2)]
    letters = [d for d in letters if d.service == "inference"]  # (the joiner may refuse t-0999)
    assert sorted(d.error_kind for d in letters) == sorted(
        [ErrorKind.NOT_SINGLE_OBJECT, ErrorKind.UNKNOWN_FINGERPRINT]
    )
    assert all(d.message for d in letters)
    codes = loop.stop_all()
    assert all(code == 0 for code in codes.values()), codes


def test_joiner_killed_mid_stream_loses_nothing_and_trains_nothing_twice(loop):
    start_loop(loop)
    wait_for(lambda: len(loop.taken()) >= 200, 90, "some experiences taken")
    loop.kill("joiner")
    taken_before_restart = len(loop.taken())
    loop.start("joiner")
    wait_for_game(loop)
    assert taken_before_restart < TICKS * loop.territories
    assert_every_decision_taken_exactly_once(loop)
    # Records re-read after the restart may be joined again; the trainer drops exactly those.
    experiences = loop.reader("experiences")
    experiences.until(len(loop.taken()))
    ids = [CODEC.decode(m.value(), Experience).decision.decision_id for m in experiences.poll()]
    surplus = len(ids) - len(set(ids))
    wait_for(
        lambda: loop.metric("trainer", "queen_trainer_duplicate_experiences_total") == surplus,
        30,
        f"the trainer to drop the {surplus} re-joined experiences",
    )


def test_inference_killed_its_partitions_move_and_no_observation_is_left(loop):
    start_loop(loop, inference=2)
    wait_for(lambda: (loop.metric("game", "queen_game_ticks_total") or 0) >= 8, 60, "8 ticks")
    loop.kill("inference-2")
    wait_for_game(loop)
    obs_reader = loop.reader("observations")
    obs_reader.until((TICKS + 1) * loop.territories)
    good = {o.observation_id for o in observations_of(obs_reader)}
    reader = loop.reader("decisions")
    wait_for(
        lambda: good <= {d.observation_id for d in decisions_of(reader)},
        90,
        "every observation to have a decision after the failover",
    )


def test_hot_load_refuses_bad_versions_and_keeps_serving(loop):
    loop.start("inference", QUEEN_SERVING_MODE="immediate")  # every verified version, as it comes
    wait_for(lambda: loop.metrics("inference"), 60, "inference metrics")
    signer = Signer(load_private_key(loop.keys["QUEEN_SIGNING_KEY_FILE"]))

    def version(n, **changes):
        return signer.sign(samples.loadable_version(n, seed=42, **changes))

    producer = make_producer(loop.settings)
    topic = loop.topic("model-versions")
    producer.produce(topic, CODEC.encode(version(5)), b"queen")
    producer.flush(10)
    wait_for(
        lambda: loop.metric("inference", "queen_inference_served_model_version") == 5,
        30,
        "version 5 served",
    )
    producer.produce(topic, CODEC.encode(version(6, sha256="ab" * 32)), b"queen")
    producer.produce(topic, CODEC.encode(version(7, feature_fingerprint="0" * 16)), b"queen")
    producer.produce(topic, CODEC.encode(samples.loadable_version(8, seed=42)), b"queen")
    producer.produce(topic, CODEC.encode(keys.signer().sign(samples.loadable_version(9))), b"queen")
    producer.flush(10)

    def rejected(reason):
        return loop.metric(
            "inference", "queen_inference_model_versions_rejected_total", reason=reason
        )

    wait_for(
        lambda: (
            [rejected(r) for r in ("sha256", "feature", "unsigned", "unknown_key")] == [1, 1, 1, 1]
        ),
        30,
        "all four rejected",
    )
    assert loop.metric("inference", "queen_inference_served_model_version") == 5
    assert math.isclose(loop.metric("inference", "queen_inference_model_versions_loaded_total"), 1)


def test_forged_versions_are_never_served_and_the_trainer_never_resumes_from_one(loop):
    import dataclasses

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    producer = make_producer(loop.settings)
    for i in range(300):  # experiences to train on, so the trainer publishes versions
        e = samples.experience(i % 16, i // 16)
        producer.produce(
            loop.topic("experiences"), CODEC.encode(e), e.decision.territory_id.encode()
        )
    producer.flush(10)
    fast = {"QUEEN_TRAINER_TRAINING_INTERVAL": "0.5"}
    loop.start("inference", QUEEN_SERVING_MODE="immediate")  # the mode that would serve a forgery
    loop.start("trainer", **fast)

    def served():
        return loop.metric("inference", "queen_inference_served_model_version") or 0

    wait_for(lambda: served() >= 3, 90, "trained versions served")
    trusted = Signer(load_private_key(loop.keys["QUEEN_SIGNING_KEY_FILE"]))
    attacker = Signer(Ed25519PrivateKey.generate())
    base = samples.loadable_version(int(served()) + 60, seed=99)  # "always the same action"
    forged = [
        attacker.sign(base),  # a key nobody trusts
        dataclasses.replace(attacker.sign(base), key_id=trusted.key_id),  # signed-looking
        dataclasses.replace(trusted.sign(samples.loadable_version(5)), version=2**40),
        dataclasses.replace(base, version=2**45),  # unsigned
    ]
    topic = loop.topic("model-versions")
    for version in forged:
        producer.produce(topic, CODEC.encode(version), b"queen")
    producer.flush(10)

    def rejected(reason):
        return (
            loop.metric("inference", "queen_inference_model_versions_rejected_total", reason=reason)
            or 0
        )

    wait_for(
        lambda: (
            rejected("unknown_key") >= 1
            and rejected("bad_signature") >= 2
            and rejected("unsigned") >= 1
        ),
        30,
        "the forged versions to be refused",
    )
    loop.kill("trainer")
    reader = loop.reader("model-versions")

    seen: dict[int, ModelVersion] = {}

    def signed_by_the_trainer(whole=False):
        start = len(reader.messages)
        for m in (reader.poll_all(idle=0.5) if whole else reader.poll())[start:]:
            v = CODEC.decode(m.value(), ModelVersion)
            if v.key_id == trusted.key_id and v.created_at > 0:
                seen[v.version] = v
        return list(seen.values())

    last = max(v.version for v in signed_by_the_trainer(whole=True))  # nobody writes now
    loop.start("trainer", **fast)
    wait_for(lambda: served() > last, 60, "the restarted trainer's versions to be served")
    first = min((v for v in signed_by_the_trainer() if v.version > last), key=lambda v: v.version)
    assert first.parent_version == last, "it resumed from its own last version, not a forged one"
    assert first.version == last + 1
    now_served = served()
    wait_for(
        lambda: now_served in {v.version for v in signed_by_the_trainer()},
        30,
        "the served version to be one the trainer signed",
    )
    letters = [CODEC.decode(m.value(), DeadLetter) for m in loop.reader("dead-letters").poll_all()]
    assert sum(d.service == "inference" and d.source_topic == topic for d in letters) >= 4
