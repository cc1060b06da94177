"""Starting without a broker, and stopping on a frozen one: one clear line, bounded time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from runtime.broker import EmbeddedBroker, free_port
from runtime.kafka import make_admin, make_producer
from runtime.topics import ensure_topics, topic_specs
from schemas.codec import AvroSingleObjectCodec
from tests import samples
from tests.conftest import Broker
from tests.integration.kafka_helpers import TopicReader, wait_for
from tests.keys import key_files, promoter_key_files

pytestmark = pytest.mark.faults
CODEC = AvroSingleObjectCodec.default()
MODULES = {
    "game": "producers.game",
    "inference": "consumers.inference",
    "joiner": "consumers.joiner",
    "trainer": "trainer",
}


def service_env(bootstrap: str, tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "QUEEN_"))}
    return dict(
        env,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        QUEEN_METRICS_PORT="-1",
        QUEEN_TRAINER_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
        **key_files(tmp_path / "keys"),
        **promoter_key_files(tmp_path / "promoter-keys"),
        **extra,
    )


@pytest.mark.parametrize("service", MODULES)
def test_an_unreachable_broker_at_start_is_one_line_naming_the_setting(service, tmp_path):
    bootstrap = f"127.0.0.1:{free_port()}"  # nobody listens there
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", MODULES[service]],
        env=service_env(bootstrap, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert f"KAFKA_BOOTSTRAP_SERVERS='{bootstrap}'" in errors[-1], done.stderr
    assert len(done.stderr.splitlines()) <= 12, done.stderr  # not hundreds of client lines
    assert took < 15, f"{service} took {took:.1f}s to give up"  # 5 s of that is the probe


def test_sigterm_is_honoured_within_the_grace_period_when_the_broker_hangs(tmp_path):
    broker = EmbeddedBroker().start()
    try:
        settings = Broker(broker.bootstrap_servers, "embedded").settings()
        ensure_topics(make_admin(settings), topic_specs(settings))
        env = service_env(broker.bootstrap_servers, tmp_path, QUEEN_SHUTDOWN_GRACE_S="3")
        env["QUEEN_HEARTBEAT_FILE"] = str(tmp_path / "beat")
        process = subprocess.Popen(
            [sys.executable, "-m", "consumers.inference"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: (tmp_path / "beat").exists(), 60, "inference to run its loop")
        producer = make_producer(settings)
        for t in range(50):  # records in hand: the stop must commit, on a broker that hangs
            obs = samples.observation(t)
            producer.produce(
                settings.topic("observations"), CODEC.encode(obs), obs.territory_id.encode()
            )
        producer.flush(10)
        TopicReader(settings, settings.topic("decisions"), 4).until(50, timeout=60)
        os.kill(broker.process.pid, signal.SIGSTOP)  # the broker hangs: nothing answers
        try:
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(30)
            took = time.monotonic() - started
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        process.stderr.close()
        assert took < 3 + 2, f"took {took:.1f}s after SIGTERM"
        assert code == 128 + signal.SIGTERM, "the grace period, not the broker, ended it"
    finally:
        broker.stop()
