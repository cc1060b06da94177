"""Broker loss under `make run`: the embedded broker killed, the loop flows again by itself.

`python -m runtime.run` owns its embedded broker here. Killing the broker (what a restart of
the memory-only broker is: an empty one on the same port) must not leave any service hung:
the supervisor restarts the broker and creates the topics again, every service notices that
its topics were re-created, exits with one line, is restarted, and decisions flow again.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from runtime.kafka import make_admin
from runtime.settings import KafkaSettings
from runtime.topics import check_layout, topic_specs
from tests.integration.kafka_helpers import TopicReader, wait_for

pytestmark = pytest.mark.faults


def broker_pid(port: int) -> int | None:
    """The PID of the Tansu process listening on `port`, if any."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f"tcp://127.0.0.1:{port}".encode() in f.read():
                        return int(entry)
            except OSError:
                continue
    return None


def test_the_loop_flows_again_after_the_embedded_broker_is_lost(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "QUEEN_"))}
    env.update(
        QUEEN_TRAINER_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
        QUEEN_WATCH_INTERVAL_S="1",
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.run",
            "--speed",
            "20",
            "--territories",
            "16",
            "--log-dir",
            str(tmp_path / "logs"),
            "--keys",
            str(tmp_path / "keys"),
            "--refresh",
            "0.5",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(run.stdout.readline, "")))
    reader.start()

    def text() -> str:
        return "".join(lines)

    try:
        port = int(
            wait_for(
                lambda: re.search(r"broker 127\.0\.0\.1:(\d+)", text()),
                60,
                "make run to start its broker",
            ).group(1)
        )
        settings = KafkaSettings(f"127.0.0.1:{port}", "queen.", 4)
        wait_for(lambda: re.search(r"served [1-9]", text()), 120, "trained versions served")
        pid = broker_pid(port)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        lost_at = time.monotonic()
        wait_for(lambda: "died: restarting it" in text(), 30, "the supervisor to see the loss")
        decisions = TopicReader(settings, settings.topic("decisions"), 4)
        wait_for(lambda: len(decisions.poll()) >= 64, 120, "decisions on the new broker")
        flowing = time.monotonic() - lost_at
        assert broker_pid(port) not in (None, pid)
        restarted = re.findall(r"supervisor: .* (\w+) exited (\d+)", text())
        assert {name for name, _ in restarted} >= {"game", "inference", "joiner", "trainer"}
        # 4: the watch saw the topics re-created; 5: a commit or a delivery failed first; 2: a
        # restart found no topics yet. Never a hang, never a traceback.
        assert {code for _, code in restarted} <= {"2", "4", "5"}, restarted
        check_layout(make_admin(settings), topic_specs(settings))
        for name in ("game", "inference", "joiner", "trainer"):
            log = (tmp_path / "logs" / f"{name}.log").read_text()
            assert "Traceback" not in log, f"{name}: {log[-3000:]}"
        models = TopicReader(settings, settings.topic("model-versions"), 1)
        wait_for(lambda: models.poll(), 60, "a trained version on the new broker")
        print(f"\nbroker loss: decisions flow again {flowing:.1f}s after the broker died")
        decisions.close()
        models.close()
    finally:
        run.send_signal(signal.SIGINT)
        code = run.wait(90)
        reader.join(10)
        run.stdout.close()
    assert code == 0, text()[-4000:]
