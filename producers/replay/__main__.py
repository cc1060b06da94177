"""`python -m producers.replay FILE...`: replay recorded sessions into the loop's topics.

Each record goes to its topic (observations, decisions, rewards, experiences), keyed by
territory, in file order (one producer: each territory's order is kept). `--speed N` paces the
records by their event time, N game seconds per wall second (20: a 15 s tick every 0.75 s);
0, the default, replays as fast as the broker takes them. Unless `--keep-epoch`, a replay is a
new epoch with new ids (producers/replay/rewrite.py): it meets no live tick, and the joiner
and trainer take its experiences as new ones. Invalid lines are reported, skipped and counted.
Where the brokers are: KAFKA_BOOTSTRAP_SERVERS, QUEEN_TOPIC_PREFIX (as for the services).
Exit 0 when everything valid was delivered, 2 on bad options or a missing file, 5 when the
broker did not take every record.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from producers.replay.rewrite import Rewriter
from producers.replay.session import TOPIC_OF, TYPES, Bad, read
from runtime.kafka import make_producer
from runtime.settings import KafkaSettings, limits_from_env
from schemas.codec import AvroSingleObjectCodec

logger = logging.getLogger("replay")
ALL_TOPICS = sorted({TOPIC_OF[t] for t in TYPES.values()})


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, checked."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="*.avro or JSON lines")
    parser.add_argument("--speed", type=float, default=0.0, help="game s per wall s; 0: no wait")
    parser.add_argument("--keep-epoch", action="store_true", help="replay epochs and ids as-is")
    parser.add_argument("--only", default=",".join(ALL_TOPICS), help="topics to write, comma")
    parser.add_argument("--run", default=None, help="this replay's name (the new epochs' part)")
    args = parser.parse_args(argv)
    if args.speed < 0:
        parser.error(f"--speed must be >= 0, got {args.speed}")
    args.only = {t.strip() for t in args.only.split(",") if t.strip()}
    if not args.only <= set(ALL_TOPICS):
        parser.error(f"--only {sorted(args.only - set(ALL_TOPICS))}: not among {ALL_TOPICS}")
    for path in args.files:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    return args


def event_time_of(record: object) -> int:
    """The record's game time (ms), to pace a replay by."""
    inner = getattr(record, "decision", record)
    return int(getattr(inner, "event_time", 0))


def territory_of(record: object) -> str:
    """The record's key: its territory."""
    inner = getattr(record, "decision", record)
    return str(getattr(inner, "territory_id", ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Replay the files; print what was written and skipped."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s replay: %(message)s")
    settings = KafkaSettings.from_env(os.environ)
    limits = limits_from_env(os.environ)
    codec = AvroSingleObjectCodec.default(limits)
    producer = make_producer(settings)
    rewrite = Rewriter(keep=args.keep_epoch, run=args.run)
    written: Counter[str] = Counter()
    bad = 0
    started = time.monotonic()
    first_time: int | None = None
    for path in args.files:
        for item in read(path, limits):
            if isinstance(item, Bad):
                bad += 1
                if bad <= 20:
                    logger.warning("skipped %s: %s", item.where, item.reason)
                continue
            topic = TOPIC_OF[type(item)]
            if topic not in args.only:
                continue
            if args.speed > 0:
                at = event_time_of(item)
                first_time = at if first_time is None else first_time
                due = started + max(0, at - first_time) / 1000 / args.speed
                if due > time.monotonic():
                    producer.flush(due - time.monotonic())
                    time.sleep(max(0.0, due - time.monotonic()))
            record = rewrite(item)
            key = territory_of(record)
            value = codec.encode(record)
            while True:
                try:
                    producer.produce(settings.topic(topic), value, key.encode())
                    break
                except BufferError:
                    producer.poll(0.1)
            written[topic] += 1
            producer.poll(0)
    left = producer.flush(60.0)
    summary = ", ".join(f"{t} {n}" for t, n in sorted(written.items())) or "nothing"
    epochs = "kept" if args.keep_epoch else f"new epochs {sorted(rewrite.epochs.values())}"
    print(f"replayed {sum(written.values())} ({summary}); skipped {bad} bad; {epochs}")
    if left:
        logger.error("%d records not delivered", left)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main())
