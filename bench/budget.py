"""Where one record's time goes, without a broker: decode, handle, encode, microseconds each.

The service loops spend their CPU on these three steps plus the Kafka client's calls; their sum
is the ceiling of one Python process before any Kafka work (1e6 / sum records per second).
Each step runs on the same records the throughput runs use, best of `repeats` passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.components import joined_pair
from consumers.inference.handler import InferenceHandler
from consumers.inference.model_slot import ModelSlot
from consumers.joiner.handler import JoinHandler
from consumers.joiner.pending import PendingJoin
from queen.model import initial_model
from queen.policy import ExplorationPolicy
from runtime.loop import Incoming
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Decision, Observation, Reward
from tests.samples import observation

CODEC = AvroSingleObjectCodec.default()


class _At:
    """Where a record came from, as the joiner's handler reads it off a Kafka message."""

    def __init__(self, topic: str, offset: int) -> None:
        self._topic, self._offset = topic, offset

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return b""


def _us_per_record(step: Callable[[], Any], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return 1e6 * best / n


def inference(n: int = 2000, repeats: int = 5) -> dict[str, float]:
    """Microseconds per observation: decode it, decide (a batch of n), encode the decision."""
    data = [CODEC.encode(observation(i % 64, i // 64)) for i in range(n)]
    handler = InferenceHandler(ModelSlot(initial_model(0)), ExplorationPolicy(seed=0), "d")
    records = [CODEC.decode(d, Observation) for d in data]
    batch = [Incoming(r, None) for r in records]
    outputs = handler.handle(batch, time.time())
    decisions = [out.record for out in outputs]  # type: ignore[union-attr]
    return {
        "decode": _us_per_record(lambda: [CODEC.decode(d, Observation) for d in data], n, repeats),
        "handle": _us_per_record(lambda: handler.handle(batch, time.time()), n, repeats),
        "encode": _us_per_record(lambda: [CODEC.encode(d) for d in decisions], n, repeats),
    }


def joiner(pairs: int = 2000, repeats: int = 5) -> dict[str, float]:
    """Microseconds per event (a decision or a reward): decode, join, encode the experiences."""
    joined = [joined_pair(i) for i in range(pairs)]
    decisions = [CODEC.encode(d) for d, _ in joined]
    rewards = [CODEC.encode(r) for _, r in joined]

    def decode() -> list[Any]:
        return [CODEC.decode(b, Decision) for b in decisions] + [
            CODEC.decode(b, Reward) for b in rewards
        ]

    records = decode()
    batch = [Incoming(r, _At("d" if i < pairs else "r", i)) for i, r in enumerate(records)]

    def join() -> list[Any]:
        return JoinHandler(PendingJoin(), "d", "e").handle(batch, time.time())

    experiences = [out.record for out in join()]
    return {
        "decode": _us_per_record(decode, 2 * pairs, repeats),
        "handle": _us_per_record(join, 2 * pairs, repeats),
        "encode": _us_per_record(
            lambda: [CODEC.encode(e) for e in experiences], 2 * pairs, repeats
        ),
    }
