"""The game-side client's round trip on a real inference process, and its fallbacks.

A real inference service (no trained model yet: its seeded policy) reads the observations an
`AsyncGameClient` publishes; every tick the client decides all 64 territories concurrently
(as a websocket server with 64 players would), ticks `every` seconds apart: 256 decisions/s,
the load of 64 territories at game speed 60. Round trip: `decide` called to its decision
returned, measured around the await. Fallbacks: decisions whose deadline (1 s) passed,
per 10,000.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np

from bench.live import inference_process
from producers.client import AsyncGameClient, ClientConfig, TerritoryState
from runtime.kafka import make_admin
from runtime.settings import KafkaSettings
from runtime.topics import ensure_topics, topic_specs
from runtime.view import scrape

TERRITORIES = [f"t-{i:04d}" for i in range(64)]
DEADLINE_S = 1.0


def state(territory: str, tick: int) -> TerritoryState:
    """A plausible territory state."""
    threat = tuple(((tick + i) % 10) / 10 for i in range(8))
    return TerritoryState(
        territory, 1, 100.0 + tick, 8.0, 3.0, 0.9, 0, threat, (1,) * 8, (2, 1, 0, 0)
    )


async def _play(settings: KafkaSettings, decisions: int, every: float) -> dict[str, Any]:
    config = ClientConfig(deadline_s=DEADLINE_S, territories=tuple(TERRITORIES))
    async with AsyncGameClient(settings, config) as client:
        warm_until = time.monotonic() + 60
        while (await client.decide(state(TERRITORIES[0], 0), 2.0)).decision is None:
            if time.monotonic() > warm_until:
                raise RuntimeError("inference served no decision in 60 s")
        before = client.stats()
        round_trips: list[float] = []

        async def one(territory: str, tick: int) -> None:
            start = time.perf_counter()
            served = await client.decide(state(territory, tick))
            if served.decision is not None:
                round_trips.append((time.perf_counter() - start) * 1000)

        ticks = max(1, decisions // len(TERRITORIES))
        next_tick = time.monotonic()
        for tick in range(ticks):
            await asyncio.gather(*(one(t, tick) for t in TERRITORIES))
            next_tick += every
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        after = client.stats()
    made = ticks * len(TERRITORIES)
    fallbacks = after.fallback_total - before.fallback_total
    return {
        "decisions": made,
        "decisions_per_s": len(TERRITORIES) / every,
        "p50_ms": float(np.percentile(round_trips, 50)) if round_trips else None,
        "p99_ms": float(np.percentile(round_trips, 99)) if round_trips else None,
        "fallbacks": fallbacks,
        "fallbacks_per_10k": 10_000 * fallbacks / made,
        "deadline_s": DEADLINE_S,
    }


def round_trip(bootstrap: str, decisions: int, every: float = 0.25) -> dict[str, Any]:
    """Start inference on topics of its own, play `decisions` decisions, return the figures."""
    prefix = f"client-{uuid.uuid4().hex[:8]}."
    settings = KafkaSettings(bootstrap, prefix, 4)
    ensure_topics(make_admin(settings), topic_specs(settings))
    with inference_process(settings) as (_, port, _signer):
        deadline = time.monotonic() + 60
        while not scrape(port) and time.monotonic() < deadline:
            time.sleep(0.2)  # polling the service's /metrics until it serves
        return asyncio.run(_play(settings, decisions, every))
