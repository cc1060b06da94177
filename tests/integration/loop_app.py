"""A tiny service for integration tests: copies rewards from one topic to another.

    python -m tests.integration.loop_app BOOTSTRAP IN_TOPIC OUT_TOPIC DEAD_TOPIC GROUP

It runs the real ServiceLoop with the real factories, so SIGTERM behaviour is the services'.
"""

import os
import sys
import threading
import time

from prometheus_client import CollectorRegistry

from runtime.dead_letter import DeadLetterPublisher
from runtime.kafka import make_consumer, make_producer
from runtime.logs import configure_logging
from runtime.loop import Handler, LoopConfig, Outgoing, ServiceLoop, install_signal_handlers
from runtime.metrics import LoopMetrics
from runtime.settings import KafkaSettings
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Reward


class Copy(Handler):
    def __init__(self, out_topic: str) -> None:
        self.out_topic = out_topic

    def handle(self, batch, now):
        time.sleep(float(os.environ.get("LOOP_APP_WORK_SECONDS", "0")))  # simulated work
        return [Outgoing(self.out_topic, i.message.key(), i.record) for i in batch]


def main(argv: list[str]) -> int:
    bootstrap, in_topic, out_topic, dead_topic, group = argv
    configure_logging("loop_app")
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    codec = AvroSingleObjectCodec.default()
    metrics = LoopMetrics.create(CollectorRegistry(), "loop_app")
    producer = make_producer(settings)
    dead = DeadLetterPublisher(producer, dead_topic, "loop_app", codec, metrics.dead_letters)
    loop = ServiceLoop(
        make_consumer(settings, group, **{"max.poll.interval.ms": 10000}),
        producer,
        codec,
        {in_topic: Reward},
        Copy(out_topic),
        dead,
        metrics,
        LoopConfig(batch_size=7, commit_interval=0.2),
    )
    stop = threading.Event()
    install_signal_handlers(stop)
    print("ready", flush=True)
    loop.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
