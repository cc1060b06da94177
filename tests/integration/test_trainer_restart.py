"""The trainer killed with SIGKILL and restarted: versions go on increasing, the buffer refills."""

import dataclasses

import pytest

from runtime.kafka import make_producer
from schemas.codec import AvroSingleObjectCodec
from schemas.records import ModelVersion
from tests import samples
from tests.e2e.harness import LoopHarness
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.integration
CODEC = AvroSingleObjectCodec.default()
EXPERIENCES = 600


def test_trainer_killed_resumes_after_every_published_version_with_its_buffer_refilled(
    kafka, tmp_path
):
    loop = LoopHarness(kafka.bootstrap_servers, tmp_path)
    producer = make_producer(loop.settings)
    for i in range(EXPERIENCES):
        e = samples.experience(i % 32, i)
        decision = dataclasses.replace(e.decision, decision_id=f"decision-{i}")
        e = dataclasses.replace(e, decision=decision, reward=-1.0 + (i % 7) / 7)
        producer.produce(loop.topic("experiences"), CODEC.encode(e), decision.territory_id.encode())
    producer.flush(10)
    fast = {"QUEEN_TRAINER_TRAINING_INTERVAL": "0.05", "QUEEN_TRAINER_CHECKPOINT_EVERY": "7"}
    try:
        loop.start("trainer", **fast)

        def version():
            return loop.metric("trainer", "queen_trainer_current_model_version") or 0

        wait_for(lambda: version() >= 20, 60, "20 versions")
        loop.kill("trainer")
        published = [
            CODEC.decode(m.value(), ModelVersion).version
            for m in loop.reader("model-versions").until(20)
        ]
        before = max(published)
        assert (tmp_path / "checkpoints").is_dir() and any((tmp_path / "checkpoints").iterdir())

        loop.start("trainer", **fast)
        wait_for(
            lambda: loop.metric("trainer", "queen_trainer_buffer_size") == EXPERIENCES,
            60,
            "the buffer refilled from the experiences topic",
        )
        wait_for(lambda: version() >= before + 10, 60, "training to go on after the restart")
        assert loop.metric("trainer", "queen_trainer_experiences_taken_total") == 0
    finally:
        loop.stop_all()
    versions = [
        CODEC.decode(m.value(), ModelVersion).version
        for m in loop.reader("model-versions").until(before + 10)
    ]
    assert len(versions) == len(set(versions)), "a version number was reused"
    after = versions[versions.index(before) + 1 :]
    assert after and min(after) == before + 1 and after == sorted(after)
