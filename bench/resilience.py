"""Resilience, measured: recovery after each fault, broker loss, memory under a hostile flood.

- `faults`: the fault suite's run (tests/faults/runner.py) on this broker: seconds from a
  service's restart to its first progress, seconds a SIGTERM takes, and the audit's counts.
- `broker_loss`: make run's orchestrator with its own embedded broker, the broker killed:
  seconds until decisions flow again (tests/faults/broker.py).
- `hostile_flood`: in a fresh process per service, RSS before and after 100,000 hostile
  records (random bytes, mutations of valid encodings, extreme values) through the service's
  real loop and handler, Kafka faked (tests/hostile/services.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.faults.broker import lose_the_broker
from tests.faults.runner import Fault, FaultRun, every_fault

FLOOD = """
import gc, io, json, random, resource, sys
import fastavro
from schemas.codec import MARKER, fingerprint_of_schema, load_schema
from tests.hostile.services import CODEC, SERVICES, valid_inputs

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

name, n = sys.argv[1], int(sys.argv[2])
service, valid = SERVICES[name], valid_inputs(name)
rng = random.Random(0)
encoded = [(t, CODEC.encode(r), r) for t, r in valid]
WORST = ("x" * 5000, "t-" + "9" * 5000, "", float("nan"), float("inf"),
         2**63 - 1, -2**63, [0.5] * 1000)

def hostile(i):
    topic, data, record = encoded[i % len(encoded)]
    kind = i % 3
    if kind == 0:
        return topic, rng.randbytes(rng.randrange(600))
    if kind == 1:
        cut = rng.randrange(10, len(data))
        return topic, data[:cut] + bytes([data[cut] ^ rng.randrange(1, 256)]) + data[cut + 1:]
    value, schema = record.to_avro(), load_schema(type(record))
    field = rng.choice(schema["fields"])
    value[field["name"]] = rng.choice(WORST)
    if "territory_id" in value:
        value["territory_id"] = f"stranger-{i}"
    out = io.BytesIO()
    try:
        fastavro.schemaless_writer(out, fastavro.parse_schema(schema, named_schemas={}), value)
    except Exception:
        return topic, MARKER + bytes(9)
    return topic, MARKER + fingerprint_of_schema(schema) + out.getvalue()

from prometheus_client import CollectorRegistry
from runtime.dead_letter import DeadLetterPublisher
from runtime.loop import LoopConfig, ServiceLoop
from runtime.metrics import LoopMetrics
from tests.fakes import MessageStub
from tests.hostile.services import NOW_S

class Discard:  # a producer that keeps nothing: the flood measures the service, not a fake
    produced = 0
    def produce(self, *args, **kwargs):
        self.produced += 1
    def poll(self, timeout=0):
        return 0
    def flush(self, timeout=-1):
        return 0

class Feed:
    def __init__(self):
        self.batches = []
    def subscribe(self, topics, on_assign=None, on_revoke=None):
        pass
    def poll(self, timeout):
        return self.batches[0].pop(0) if self.batches and self.batches[0] else None
    def consume(self, n, timeout):
        return self.batches.pop(0) if self.batches else []
    def commit(self, offsets=None, asynchronous=False):
        pass

producer, feed = Discard(), Feed()
metrics = LoopMetrics.create(CollectorRegistry(), name)
dead = DeadLetterPublisher(producer, "dead", name, CODEC, metrics.dead_letters)
handler = service.make()
loop = ServiceLoop(feed, producer, CODEC, service.inputs, handler, dead, metrics,
                   LoopConfig(tick_interval=0.0 if service.ticks else 1e9, commit_interval=1e9))
loop.clock = lambda: NOW_S
offset = 0

def feed_all(messages):
    global offset
    for i in range(0, len(messages), 500):
        feed.batches.append([MessageStub(t, d, 0, offset + k, b"k")
                             for k, (t, d) in enumerate(messages[i:i + 500])])
        offset += 500
        while feed.batches:
            loop.run_once()

feed_all([(t, d) for t, d, _ in encoded])  # warm: imports, first allocations
gc.collect()
before = rss_mb()
for start in range(0, n, 10_000):
    feed_all([hostile(i) for i in range(start, min(n, start + 10_000))])
gc.collect()
after = rss_mb()
rejected = sum(s.value for m in metrics.rejections.collect() for s in m.samples
               if s.name.endswith("_total"))
print(json.dumps({"before_mb": before, "after_mb": after, "rejected": rejected,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def faults(bootstrap: str, quick: bool) -> dict[str, Any]:
    """Recovery and stop seconds per fault, and the audit's counts (all must be 0)."""
    chosen = every_fault()
    if quick:  # one SIGKILL per service
        chosen = [f for f in chosen if f.signal.name == "SIGKILL"]
    with tempfile.TemporaryDirectory() as workdir:
        run = FaultRun(bootstrap, Path(workdir))
        try:
            run.start()
            outcomes = run.inflict(chosen)
            audit = run.drain_and_audit()
        finally:
            run.stop()
    return {
        "faults": {
            o.fault.name: {"stop_s": o.stop_seconds, "recovery_s": o.recovery_seconds}
            for o in outcomes
        },
        "violations": sum(audit.violations().values()),
        "observations": audit.observations,
        "late_ticks": audit.late_ticks,
    }


def broker_loss() -> float:
    """Seconds from the embedded broker's death to decisions flowing again, under make run."""
    with tempfile.TemporaryDirectory() as workdir:
        return lose_the_broker(Path(workdir)).flowing_after_s


def hostile_flood(records: int) -> dict[str, dict[str, float]]:
    """RSS (MB) of each service's loop before and after `records` hostile records."""
    out = {}
    for name in ("inference", "joiner", "trainer", "game"):
        done = subprocess.run(
            [sys.executable, "-c", FLOOD, name, str(records)],
            capture_output=True,
            text=True,
            check=True,
        )
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


__all__ = ["Fault", "broker_loss", "faults", "hostile_flood"]
