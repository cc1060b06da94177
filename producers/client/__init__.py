"""The game-side client: how a game server talks to the loop (docs/integrating.md).

    from producers.client import ClientConfig, GameClient, TerritoryState

    client = GameClient(KafkaSettings.from_env(os.environ), ClientConfig(deadline_s=1.0))
    served = client.decide(TerritoryState(...))      # never raises on a timeout: a fallback
    ...apply served.action if served.send...
    client.report(served, reward, components)
    client.close()

`AsyncGameClient` is the same for asyncio servers (`await client.decide(state)`).
`producers.client.core` is the protocol without I/O; the simulated game uses it too.
"""

from producers.client.aio import AsyncGameClient
from producers.client.core import (
    Fallback,
    Ledger,
    Served,
    TerritoryState,
    Verdict,
    observation_of,
    reward_of,
)
from producers.client.sync import ClientConfig, ClientStats, GameClient

__all__ = [
    "AsyncGameClient",
    "ClientConfig",
    "ClientStats",
    "Fallback",
    "GameClient",
    "Ledger",
    "Served",
    "TerritoryState",
    "Verdict",
    "observation_of",
    "reward_of",
]
