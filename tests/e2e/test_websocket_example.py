"""The worked example of docs/integrating.md end to end: a websocket game server using the client.

The real inference service runs against the session's broker; the example server
(producers/examples/websocket_server.py) runs as a process; a websockets client plays the
game's clients: observations in, decisions out, outcomes reported as Rewards naming both.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest
from websockets.asyncio import client as websockets_client

from runtime.broker import free_port
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import DecisionStatus
from schemas.records import Reward
from tests.e2e.harness import LoopHarness
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.e2e
CODEC = AvroSingleObjectCodec.default()
TERRITORIES = [f"t-{i:04d}" for i in range(4)]
TICKS = 3


def observation(territory: str) -> str:
    return json.dumps(
        {
            "type": "observation",
            "territory_id": territory,
            "rules_version": 1,
            "resources": 120.0,
            "income": 8.0,
            "upkeep": 3.0,
            "base_health": 0.9,
            "units_lost": 0,
            "chunk_threat": [0.1] * 8,
            "chunk_units": [1] * 8,
            "unit_counts": [2, 1, 0, 0],
        }
    )


async def play(port: int) -> tuple[list[dict], list[dict]]:
    decisions, replies = [], []
    async with websockets_client.connect(f"ws://127.0.0.1:{port}") as ws:
        await ws.send("not json")
        replies.append(json.loads(await ws.recv()))
        for _ in range(TICKS):
            for territory in TERRITORIES:
                await ws.send(observation(territory))
                decision = json.loads(await ws.recv())
                decisions.append(decision)
                outcome = {
                    "type": "outcome",
                    "observation_id": decision["observation_id"],
                    "reward": 0.25,
                    "components": {"income": 0.25},
                }
                await ws.send(json.dumps(outcome))
                replies.append(json.loads(await ws.recv()))
    return decisions, replies


def test_a_websocket_game_server_gets_decisions_from_the_loop_and_reports_rewards(
    kafka, tmp_path
) -> None:
    loop = LoopHarness(kafka.bootstrap_servers, tmp_path, territories=len(TERRITORIES))
    port = free_port()
    log_path = tmp_path / "ws.log"
    server = None
    try:
        loop.start("inference")
        wait_for(lambda: loop.metrics("inference"), 60, "inference to serve /metrics")
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "producers.examples.websocket_server", "--port", str(port)]
                + ["--deadline", "10"],
                env=loop.env("ws"),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(lambda: b"listening on" in log_path.read_bytes(), 30, "the server to listen")
        decisions, replies = asyncio.run(play(port))
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0, log_path.read_text()
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        loop.stop_all()
    assert replies[0]["type"] == "error"  # a bad message is answered, the connection goes on
    assert [r["type"] for r in replies[1:]] == ["reported"] * TICKS * len(TERRITORIES)
    assert all(d["type"] == "decision" and d["fallback"] is None for d in decisions)
    assert [d["seq"] for d in decisions] == [s for s in range(TICKS) for _ in TERRITORIES]
    assert f"served {TICKS * len(TERRITORIES)}, fallbacks" in log_path.read_text()
    reader = loop.reader("rewards")
    rewards = [CODEC.decode(m.value(), Reward) for m in reader.until(len(decisions))]
    assert {r.observation_id for r in rewards} == {d["observation_id"] for d in decisions}
    assert all(r.decision_id is not None for r in rewards)
    sent = {d["observation_id"] for d in decisions if d["send"]}
    assert {
        r.observation_id for r in rewards if r.decision_status is DecisionStatus.APPLIED
    } == sent
