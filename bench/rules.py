"""Patch day as data: seconds from a rule set published to the first decision gated under it.

A real inference process (tests/e2e/harness.py) on the broker. Each patch: a new rules
version is published on `queen.rules`, and observations under it follow at once, as the game
sends them; the figure is, per patch, the first decision gated under that version (its
`gate_version`) minus the rule set's `published_at`, both wall-clock microseconds.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from queen.rules import RULES_V1, RULES_V2
from runtime.kafka import make_producer
from runtime.rule_book import record_of, rules_key
from schemas.codec import AvroSingleObjectCodec
from tests import samples
from tests.e2e.harness import LoopHarness, decisions_of
from tests.integration.kafka_helpers import wait_for

CODEC = AvroSingleObjectCodec.default()
TERRITORIES = 16  # observations per patch


def patch_day(bootstrap: str, patches: int = 5) -> dict[str, Any]:
    """Publish `patches` rule sets while inference runs; seconds to the first gated decision."""
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        loop = LoopHarness(bootstrap, Path(work), partitions=2)
        producer = make_producer(loop.settings)

        def publish(record: Any) -> None:
            value = CODEC.encode(record)
            producer.produce(loop.topic("rules"), value, rules_key(record.rules_version))
            producer.flush(10)

        try:
            publish(record_of(RULES_V1, "bench", time.time_ns() // 1000))
            loop.start("inference")
            wait_for(lambda: loop.metrics("inference"), 60, "inference metrics")
            reader = loop.reader("decisions")
            # warm: inference has joined its group and decides (not part of the figure)
            warm = samples.observation(0, 0)
            producer.produce(loop.topic("observations"), CODEC.encode(warm), b"t-0000")
            producer.flush(10)
            wait_for(lambda: decisions_of(reader), 60, "a first decision")
            for i in range(patches):
                version = 10 + i
                rules = dataclasses.replace(RULES_V2 if i % 2 else RULES_V1, version=version)
                record = record_of(rules, "bench", time.time_ns() // 1000)
                publish(record)
                for t in range(TERRITORIES):
                    obs = samples.observation(t, i + 1, rules_version=version)
                    producer.produce(
                        loop.topic("observations"), CODEC.encode(obs), obs.territory_id.encode()
                    )
                producer.flush(10)
                gate = f"gate-r{version}-t0"

                def first(gate: str = gate) -> int | None:
                    times = [d.decided_at for d in decisions_of(reader) if d.gate_version == gate]
                    return min(times) if times else None

                decided_at = wait_for(first, 30, f"a decision gated under {version}")
                seconds.append((decided_at - record.published_at) / 1e6)
        finally:
            loop.stop_all()
    runs = list(seconds)
    seconds.sort()
    return {
        "patches": len(seconds),
        "each": runs,
        "p50": seconds[len(seconds) // 2] if seconds else None,
        "max": seconds[-1] if seconds else None,
    }
