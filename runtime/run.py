"""`make run`: the whole loop on one machine, supervised, with a live view.

Starts the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set), creates the topics and the
development signing key pairs (var/keys, on first start: the trainer's, the game's for its rule
sets, the promoter's), starts game, inference, joiner, trainer and promoter as separate
processes under a supervisor that restarts whatever exits (and the embedded broker, if it
dies), and shows a live view scraped from their /metrics. Ctrl-C or
SIGTERM stops the services (SIGTERM, then SIGKILL after a grace period), then the broker.
`--duration` stops after that many seconds. `--record FILE` writes what the game topics carried
(observations, decisions, rewards) to a session file (`*.avro` or JSON lines) that
`python -m producers.replay` plays back. Bad options are refused before anything starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from runtime.broker import EmbeddedBroker, free_port
from runtime.kafka import make_admin
from runtime.settings import KafkaSettings
from runtime.signing import ensure_dev_keys
from runtime.supervise import Child, Supervisor, child_env
from runtime.topics import check_layout, ensure_topics, specs_from_env
from runtime.trend import Trend
from runtime.view import Snapshot, render, scrape

logger = logging.getLogger("run")

SERVICES = {
    "game": "producers.game",
    "inference": "consumers.inference",
    "joiner": "consumers.joiner",
    "trainer": "trainer",
    "promoter": "consumers.promoter",
}


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, each checked (a bad one ends `make run` before anything starts)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--speed", type=_positive(float), default=20.0, help="game s per wall s")
    parser.add_argument("--territories", type=_positive(int), default=64)
    parser.add_argument(
        "--match-churn",
        type=float,
        default=0.01,
        help="chance per tick a territory's match ends and a new territory starts",
    )
    parser.add_argument("--duration", type=float, default=0.0, help="seconds; 0 = until Ctrl-C")
    parser.add_argument("--rule-switch-tick", type=int, default=None, help="patch day's tick")
    parser.add_argument("--refresh", type=_positive(float), default=1.0, help="view refresh, s")
    parser.add_argument("--log-dir", default="var/run-logs")
    parser.add_argument("--keys", default="var/keys", help="development signing key pair")
    parser.add_argument("--record", default=None, help="session file to record (.avro, .jsonl)")
    args = parser.parse_args(argv)
    if args.duration < 0:
        parser.error(f"--duration must be >= 0, got {args.duration}")
    if not 0.0 <= args.match_churn <= 1.0:
        parser.error(f"--match-churn must be in [0, 1], got {args.match_churn}")
    if args.rule_switch_tick is not None and args.rule_switch_tick < 0:
        parser.error(f"--rule-switch-tick must be >= 0, got {args.rule_switch_tick}")
    if args.record is not None and not os.path.isdir(os.path.dirname(args.record) or "."):
        parser.error(f"--record {args.record}: its directory does not exist")
    return args


def make_children(env: dict[str, str], args: argparse.Namespace) -> list[Child]:
    """One supervised child per service, each with its metrics port and log file."""
    os.makedirs(args.log_dir, exist_ok=True)
    private_key, public_key = ensure_dev_keys(args.keys)
    # The game's own pair: it signs the rule sets it publishes; inference and the trainer
    # learn only rule sets signed by it.
    rules_private, rules_public = ensure_dev_keys(os.path.join(args.keys, "rules"))
    # The promoter's pair: inference serves (gated, the default) what it promotes; the
    # trainer's key cannot promote, the promoter's cannot sign versions.
    promoter_private, promoter_public = ensure_dev_keys(os.path.join(args.keys, "promoter"))
    # An epoch ends (its pending decisions default) after four ticks of silence, at this speed.
    idle = max(5.0, 4 * 15.0 / args.speed)
    children = []
    for name, module in SERVICES.items():
        port = free_port()
        extra = {
            "QUEEN_METRICS_PORT": str(port),
            "QUEEN_GAME_SPEED": str(args.speed),
            "QUEEN_SIGNING_KEY_FILE": str(private_key),
            "QUEEN_TRUSTED_KEYS": str(public_key.parent),
            "QUEEN_RULES_TRUSTED_KEYS": str(rules_public.parent),
            "QUEEN_TRUSTED_PROMOTER_KEYS": str(promoter_public.parent),
            "QUEEN_JOINER_IDLE_TIMEOUT_S": env.get("QUEEN_JOINER_IDLE_TIMEOUT_S", str(idle)),
        }
        if name == "game":  # only the simulator counts territories; they come and go
            extra["QUEEN_TERRITORIES"] = str(args.territories)
            extra["QUEEN_GAME_MATCH_CHURN"] = str(args.match_churn)
            extra["QUEEN_RULES_SIGNING_KEY_FILE"] = str(rules_private)
        if name == "promoter":
            extra["QUEEN_PROMOTER_SIGNING_KEY_FILE"] = str(promoter_private)
        if args.rule_switch_tick is not None:
            extra["QUEEN_GAME_RULE_SWITCH_TICK"] = str(args.rule_switch_tick)
        log_path = os.path.join(args.log_dir, f"{name}.log")
        children.append(Child(name, module, child_env(env, **extra), log_path, port))
    return children


def watch(supervisor: Supervisor, stop: threading.Event, duration: float, every: float) -> None:
    """Supervise and refresh the view until `stop` is set or `duration` seconds passed."""
    tty = sys.stdout.isatty()
    started = time.monotonic()
    before: Snapshot | None = None
    previous: Snapshot | None = None
    children = supervisor.children
    trend = Trend()
    shown = 0
    while not stop.wait(every):
        supervisor.check()
        if not tty:
            for event in supervisor.events_seen[shown:]:
                print(f"supervisor: {event}", flush=True)
            shown = len(supervisor.events_seen)
        now = Snapshot(time.time(), {c.name: scrape(c.port) for c in children})
        states = {c.name: c.state() for c in children}
        trend.update(now)
        lines = render(now, before, states) + trend.lines() + supervisor.events
        if tty:
            sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        else:
            body = " | ".join(render(now, before, states)[7:] + trend.lines()[1:2])
            sys.stdout.write(f"[{time.monotonic() - started:6.1f}s] {body}\n")
        sys.stdout.flush()
        previous, before = before, now
        if duration and time.monotonic() - started >= duration:
            break
    if not tty and before is not None:
        final = render(before, previous, {c.name: c.state() for c in children})
        print("final: " + " | ".join(final[2:]), flush=True)
        for line in trend.lines():
            print("final: " + line.strip(), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop until Ctrl-C, SIGTERM or the duration."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s run: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    env = dict(os.environ)
    broker = None
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = EmbeddedBroker(port=free_port()).start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    try:
        settings = KafkaSettings.from_env(env)
        specs = specs_from_env(env)

        def create_topics() -> None:
            admin = make_admin(settings)
            ensure_topics(admin, specs)
            check_layout(admin, specs)

        create_topics()
        logger.info("broker %s; topics ready; logs in %s", settings.bootstrap_servers, args.log_dir)
        supervisor = Supervisor(make_children(env, args), broker, create_topics)
        recorder = None
        if args.record:
            from pathlib import Path

            from producers.replay.record import Recorder

            recorder = Recorder(settings, Path(args.record)).start()
        supervisor.start_all()
        try:
            watch(supervisor, stop, args.duration, args.refresh)
        finally:
            supervisor.stop_all()
            if recorder is not None:
                count = recorder.stop()
                logger.info("recorded %d records to %s", count, args.record)
        for child in supervisor.failed():
            logger.error(
                "%s exited with %s (see %s)",
                child.name,
                child.process.returncode if child.process else None,
                child.log_path,
            )
        return 1 if supervisor.failed() else 0
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
