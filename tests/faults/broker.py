"""Broker loss under `make run`, as a procedure the test and the bench share.

`lose_the_broker(workdir)` starts `python -m runtime.run` owning its embedded broker, waits for
trained versions to be served, kills the broker, and waits until decisions flow on the new one.
It returns the seconds that took, the supervisor's restart events and the service logs; the
caller asserts what it needs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.kafka import make_admin
from runtime.settings import KafkaSettings
from runtime.topics import check_layout, topic_specs
from tests.integration.kafka_helpers import TopicReader, wait_for

SERVICES = ("game", "inference", "joiner", "trainer", "promoter")


@dataclass
class BrokerLoss:
    """What happened."""

    flowing_after_s: float  # broker killed -> 64 decisions on the new broker
    restarts: list[tuple[str, str]]  # (service, exit code) the supervisor restarted
    logs: dict[str, str]
    exit_code: int
    output: str


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


def lose_the_broker(workdir: Path, territories: int = 16) -> BrokerLoss:
    """Run make run's orchestrator, kill its broker, measure until decisions flow again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "QUEEN_"))}
    env.update(
        QUEEN_TRAINER_CHECKPOINT_DIR=str(workdir / "checkpoints"), QUEEN_WATCH_INTERVAL_S="1"
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.run",
            "--speed",
            "20",
            "--territories",
            str(territories),
            "--log-dir",
            str(workdir / "logs"),
            "--keys",
            str(workdir / "keys"),
            "--refresh",
            "0.5",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(run.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()

    def text() -> str:
        return "".join(lines)

    try:
        found = wait_for(lambda: re.search(r"broker 127\.0\.0\.1:(\d+)", text()), 60, "a broker")
        port = int(found.group(1))
        settings = KafkaSettings(f"127.0.0.1:{port}", "queen.", 4)
        wait_for(lambda: re.search(r"served [1-9]", text()), 120, "trained versions served")
        pid = broker_pid(port)
        assert pid is not None, "no broker process"
        os.kill(pid, signal.SIGKILL)
        lost_at = time.monotonic()
        wait_for(lambda: "died: restarting it" in text(), 30, "the supervisor to see the loss")
        decisions = TopicReader(settings, settings.topic("decisions"), 4)
        wait_for(lambda: len(decisions.poll()) >= 64, 120, "decisions on the new broker")
        flowing = time.monotonic() - lost_at
        decisions.close()
        check_layout(make_admin(settings), topic_specs(settings))
        models = TopicReader(settings, settings.topic("model-versions"), 1)
        wait_for(lambda: models.poll(), 60, "a trained version on the new broker")
        models.close()
    finally:
        run.send_signal(signal.SIGINT)
        code = run.wait(90)
        reader.join(10)
        run.stdout.close()  # type: ignore[union-attr]
    logs = {n: (workdir / "logs" / f"{n}.log").read_text(errors="replace") for n in SERVICES}
    restarts = re.findall(r"supervisor: .* (\w+) exited (\d+)", text())
    return BrokerLoss(flowing, restarts, logs, code, text())
