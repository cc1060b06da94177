"""`make run`: the whole loop on one machine, with a live view.

Starts the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set), creates the topics, starts
game, inference, joiner and trainer as separate processes, and shows a live view scraped from
their /metrics. Ctrl-C or SIGTERM stops the services (SIGTERM, then SIGKILL after a grace
period), then the broker. `--duration` stops after that many seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.broker import EmbeddedBroker, free_port
from runtime.kafka import make_admin
from runtime.settings import KafkaSettings
from runtime.topics import ensure_topics, topic_specs
from runtime.view import Snapshot, render, scrape

logger = logging.getLogger("run")

SERVICES = {
    "game": ["producers.game"],
    "inference": ["consumers.inference"],
    "joiner": ["consumers.joiner"],
    "trainer": ["trainer"],
}


@dataclass
class Child:
    """A service process and its metrics port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    def state(self) -> str:
        """'running', or 'exited N'."""
        code = self.process.poll()
        return "running" if code is None else f"exited {code}"


def start_services(env: dict[str, str], args: argparse.Namespace, log_dir: str) -> list[Child]:
    """Start every service with its own metrics port and log file."""
    children = []
    os.makedirs(log_dir, exist_ok=True)
    for name, module in SERVICES.items():
        port = free_port()
        child_env = dict(
            env,
            QUEEN_METRICS_PORT=str(port),
            QUEEN_TERRITORIES=str(args.territories),
            QUEEN_GAME_SPEED=str(args.speed),
        )
        if args.rule_switch_tick is not None:
            child_env["QUEEN_GAME_RULE_SWITCH_TICK"] = str(args.rule_switch_tick)
        log = open(os.path.join(log_dir, f"{name}.log"), "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", *module],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        children.append(Child(name, process, port))
    return children


def stop_services(children: list[Child], grace: float = 15.0) -> None:
    """SIGTERM every service, wait up to `grace` seconds, SIGKILL what is left."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in %.0fs: killing it", child.name, grace)
            child.process.kill()
            child.process.wait()


def watch(children: list[Child], stop: threading.Event, duration: float, every: float) -> None:
    """Refresh the view until `stop` is set or `duration` seconds passed (0: no limit)."""
    tty = sys.stdout.isatty()
    started = time.monotonic()
    before: Snapshot | None = None
    previous: Snapshot | None = None
    while not stop.wait(every):
        now = Snapshot(time.time(), {c.name: scrape(c.port) for c in children})
        lines = render(now, before, {c.name: c.state() for c in children})
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        else:
            sys.stdout.write(
                f"[{time.monotonic() - started:6.1f}s] " + " | ".join(lines[6:]) + "\n"
            )
        sys.stdout.flush()
        previous, before = before, now
        if duration and time.monotonic() - started >= duration:
            break
    if not tty and before is not None:
        final = render(before, previous, {c.name: c.state() for c in children})
        print("final: " + " | ".join(final[2:]), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop until Ctrl-C, SIGTERM or the duration."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=float, default=20.0, help="game seconds per wall second")
    parser.add_argument("--territories", type=int, default=64)
    parser.add_argument("--duration", type=float, default=0.0, help="seconds; 0 = until Ctrl-C")
    parser.add_argument("--rule-switch-tick", type=int, default=None)
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument("--log-dir", default="var/run-logs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s run: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    env = dict(os.environ)
    broker = None
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = EmbeddedBroker().start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    try:
        settings = KafkaSettings.from_env(env)
        ensure_topics(make_admin(settings), topic_specs(settings))
        logger.info("broker %s; topics ready; logs in %s", settings.bootstrap_servers, args.log_dir)
        children = start_services(env, args, args.log_dir)
        try:
            watch(children, stop, args.duration, args.refresh)
        finally:
            stop_services(children)
        failed = [c for c in children if c.process.returncode not in (0, -signal.SIGTERM)]
        for child in failed:
            logger.error(
                "%s exited with %s (see %s/%s.log)",
                child.name,
                child.process.returncode,
                args.log_dir,
                child.name,
            )
        return 1 if failed else 0
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
