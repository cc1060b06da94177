"""A minimal websocket game server whose message handler asks the loop for decisions.

`python -m producers.examples.websocket_server --port 8765` (KAFKA_BOOTSTRAP_SERVERS and
QUEEN_TOPIC_PREFIX as for the services). The game's clients send JSON text messages:

    {"type": "observation", "territory_id": "t-0001", "rules_version": 1, "resources": 120.0,
     "income": 8.0, "upkeep": 3.0, "base_health": 0.9, "units_lost": 0,
     "chunk_threat": [8 floats], "chunk_units": [8 ints], "unit_counts": [4 ints]}
      -> {"type": "decision", "observation_id": "...", "seq": 0, "send": true,
          "action": {"spawn_chunk": 3, "spawn_type": "SOLDIER"} | null,
          "fallback": null | "deadline" | ...}
    {"type": "outcome", "observation_id": "...", "reward": 0.4, "components": {"income": 0.4}}
      -> {"type": "reported", "observation_id": "..."}

A bad message gets {"type": "error", "error": "..."} and the connection goes on. This is the
seed's handler with the inline model call replaced by `await client.decide(state)`: the
fallback on a missed deadline comes back like a decision, so the handler has no new error path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from producers.client import AsyncGameClient, ClientConfig, Fallback, Served, TerritoryState
from runtime.settings import KafkaSettings

logger = logging.getLogger("websocket_server")
MAX_PENDING_OUTCOMES = 4096  # served ticks a connection may leave unreported


def state_of(message: dict[str, Any]) -> TerritoryState:
    """The TerritoryState a message describes (ValueError/KeyError/TypeError when it cannot)."""
    return TerritoryState(
        territory_id=str(message["territory_id"]),
        rules_version=int(message["rules_version"]),
        resources=float(message["resources"]),
        income=float(message["income"]),
        upkeep=float(message["upkeep"]),
        base_health=float(message["base_health"]),
        units_lost=int(message["units_lost"]),
        chunk_threat=tuple(float(x) for x in message["chunk_threat"]),
        chunk_units=tuple(int(x) for x in message["chunk_units"]),
        unit_counts=tuple(int(x) for x in message["unit_counts"]),
        new_threat=tuple(float(x) for x in message.get("new_threat", ())),
    )


def decision_message(served: Served) -> dict[str, Any]:
    """What the game's client is told to do."""
    action = served.action
    return {
        "type": "decision",
        "observation_id": served.observation.observation_id,
        "seq": served.observation.seq,
        "send": served.send,
        "action": None
        if action is None
        else {"spawn_chunk": action.spawn_chunk, "spawn_type": action.spawn_type.value},
        "fallback": served.fallback,
    }


def make_handler(client: AsyncGameClient):  # noqa: ANN201  (the websockets handler type)
    """The connection handler: one JSON message in, one JSON message out."""

    async def handler(websocket: ServerConnection) -> None:
        served: dict[str, Served] = {}  # observation_id -> what was served, until its outcome
        async for raw in websocket:
            try:
                message = json.loads(raw)
                if message.get("type") == "observation":
                    result = await client.decide(state_of(message))
                    if len(served) >= MAX_PENDING_OUTCOMES:
                        served.pop(next(iter(served)))
                    served[result.observation.observation_id] = result
                    reply = decision_message(result)
                elif message.get("type") == "outcome":
                    oid = str(message["observation_id"])
                    tick = served.pop(oid)
                    components = {str(k): float(v) for k, v in message["components"].items()}
                    client.report(tick, float(message["reward"]), components)
                    reply = {"type": "reported", "observation_id": oid}
                else:
                    reply = {"type": "error", "error": f"unknown type {message.get('type')!r}"}
            except Exception as exc:  # a bad message never ends the connection
                reply = {"type": "error", "error": f"{type(exc).__name__}: {exc}"}
            await websocket.send(json.dumps(reply))

    return handler


async def run(host: str, port: int, config: ClientConfig) -> None:
    """Serve until SIGTERM/SIGINT, then close the client (its queued records delivered)."""
    client = AsyncGameClient(KafkaSettings.from_env(os.environ), config)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    try:
        async with serve(make_handler(client), host, port):
            print(f"listening on ws://{host}:{port} (epoch {client.epoch})", flush=True)
            await stop
    finally:
        await client.close()
        stats = client.stats()
        print(f"served {stats.served}, fallbacks {dict(stats.fallbacks)}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--deadline", type=float, default=1.0, help="seconds per decision")
    parser.add_argument("--fallback", choices=[f.value for f in Fallback], default="wait")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = ClientConfig(deadline_s=args.deadline, fallback=Fallback(args.fallback))
    asyncio.run(run(args.host, args.port, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
