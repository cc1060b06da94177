"""The latency floor: a bare consumer process that decodes observations and does nothing else.

    python -m bench.floor BOOTSTRAP TOPIC COUNT OUT.json

Reads TOPIC (every partition, no group); says "ready" on the warm-up observation (seq < 1000),
then reads until COUNT paced observations (seq >= 1000) have arrived, none for 3 s after the
first, or 120 s passed, and writes, for each, milliseconds from its emitted_at to its arrival
here. The same producer, broker, topic and moment as inference's input (bench.live runs it
beside the service), without the service: what is left above this is inference's own latency.
"""

from __future__ import annotations

import json
import os
import sys
import time

from runtime.kafka import make_reader
from runtime.settings import KafkaSettings
from runtime.tail import assign_from_beginning
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Observation

IDLE_S = 3.0  # once the load stops: nothing more for this long ends the run


def main(argv: list[str]) -> int:
    """Consume and write the latencies."""
    bootstrap, topic, count, out = argv[0], argv[1], int(argv[2]), argv[3]
    codec = AvroSingleObjectCodec.default()
    # the service's client settings, KAFKA_* overrides included
    consumer = make_reader(
        KafkaSettings.from_env({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    )
    assign_from_beginning(consumer, topic)
    latencies: list[float] = []
    deadline = last = time.monotonic() + 120
    while len(latencies) < count and time.monotonic() < min(deadline, last + IDLE_S):
        message = consumer.poll(0.01)
        if message is None or message.error() is not None:
            continue
        arrived = time.time_ns() // 1000
        obs = codec.decode(message.value() or b"", Observation)
        if obs.seq >= 1000:
            latencies.append((arrived - obs.emitted_at) / 1000)
            last = time.monotonic()  # idle is counted from the first paced observation on
        else:  # the warm-up observation: connected and fetching, as inference is when ready
            print("ready", flush=True)
    consumer.close()
    with open(out, "w") as f:
        json.dump(latencies, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
