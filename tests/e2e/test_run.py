"""`make run`'s orchestrator: starts the loop, shows it, and stops everything on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import uuid

import pytest

from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.e2e


def test_run_shows_the_loop_learning_and_stops_cleanly_on_ctrl_c(kafka, tmp_path):
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        QUEEN_TOPIC_PREFIX=f"run-{uuid.uuid4().hex[:8]}.",
        QUEEN_INFERENCE_GROUP=f"inference-{uuid.uuid4().hex[:8]}",
        QUEEN_JOINER_GROUP=f"joiner-{uuid.uuid4().hex[:8]}",
        QUEEN_TRAINER_GROUP=f"trainer-{uuid.uuid4().hex[:8]}",
        QUEEN_JOINER_TRANSACTIONAL_ID=f"joiner-{uuid.uuid4().hex[:8]}",
        QUEEN_TRAINER_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.run",
            "--speed",
            "40",
            "--territories",
            "16",
            "--log-dir",
            str(tmp_path),
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

    def served() -> int:
        found = [int(m) for line in lines for m in re.findall(r"served (\d+)", line)]
        return max(found, default=0)

    try:
        wait_for(lambda: served() >= 2, 90, "the view to show trained versions served")
        assert len(processes_with(env["QUEEN_TOPIC_PREFIX"])) >= 5  # run + four services
    finally:
        run.send_signal(signal.SIGINT)
        code = run.wait(60)
        reader.join(10)
        run.stdout.close()
    output = "".join(lines)
    assert code == 0, output[-3000:]
    assert re.search(r"model version trained \d+", output)
    assert "final: game" in output and "exited" not in output.split("final:")[-1].split("|")[0]
    assert processes_with(env["QUEEN_TOPIC_PREFIX"]) == [], "no service may outlive make run"


def processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds `marker` (the test's topic prefix)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found
