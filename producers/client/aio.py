"""The game-side client for asyncio servers: `await client.decide(state)`.

The same client as `GameClient` (one producer, one group-less decisions reader on its thread);
the wait for a decision is an awaitable, so a websocket handler never blocks its event loop.
Publishing is a non-blocking queue put. A territory first seen asks the broker where its
partition ends (a few ms, once): name the territories in `ClientConfig.territories` to do that
at start instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from producers.client.core import Served, TerritoryState
from producers.client.sync import ClientConfig, ClientStats, GameClient
from runtime.settings import KafkaSettings
from schemas.records import Observation, Reward


class AsyncGameClient:
    """`GameClient` with awaitable decide and close."""

    def __init__(
        self, kafka: KafkaSettings, config: ClientConfig | None = None, **kwargs: Any
    ) -> None:
        """Connect (a blocking metadata request: build it before serving)."""
        self.client = GameClient(kafka, config, **kwargs)

    @property
    def epoch(self) -> str:
        """This game run's epoch."""
        return self.client.epoch

    async def decide(
        self, state: TerritoryState | Observation, deadline_s: float | None = None
    ) -> Served:
        """Publish the observation; await its decision, or the fallback at the deadline."""
        loop = asyncio.get_running_loop()
        arrived = loop.create_future()

        def set_arrived() -> None:
            if not arrived.done():
                arrived.set_result(None)

        def wake() -> None:  # on the client's reader thread
            loop.call_soon_threadsafe(set_arrived)

        waiter = self.client.start(state, wake=wake)
        if waiter.failed is None and not waiter.event.is_set():
            timeout = self.client.config.deadline_s if deadline_s is None else deadline_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived, timeout)
        return self.client.finish(waiter)

    def report(
        self, served: Served, reward: float, components: Mapping[str, float], **kwargs: Any
    ) -> Reward:
        """Publish the tick's Reward (non-blocking)."""
        return self.client.report(served, reward, components, **kwargs)

    def stats(self) -> ClientStats:
        """Served, fallbacks by reason, decisions by verdict."""
        return self.client.stats()

    async def close(self) -> None:
        """Close the client without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.client.close)

    async def __aenter__(self) -> AsyncGameClient:
        """Use as an async context manager."""
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Close."""
        await self.close()
