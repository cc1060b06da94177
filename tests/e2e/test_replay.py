"""A session recorded from a live loop, replayed into a fresh set of topics with the joiner and
the trainer running: the same count of decisions and of experiences, in a new epoch.

"Fresh" is a new topic prefix on the session's broker (empty topics, new groups), which is what
a new broker would give the joiner and trainer, without a second broker's start.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from producers.replay.record import Recorder
from producers.replay.session import read
from schemas.codec import AvroSingleObjectCodec
from schemas.records import Decision, Experience, Observation, Reward
from tests.e2e.harness import LoopHarness
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.e2e
CODEC = AvroSingleObjectCodec.default()
TICKS = 5
TERRITORIES = 8


def experiences(loop: LoopHarness, count: int) -> list[Experience]:
    reader = loop.reader("experiences")
    try:
        reader.until(count, timeout=90)
        return [CODEC.decode(m.value(), Experience) for m in reader.poll_all(idle=2)]
    finally:
        reader.close()


def test_a_replayed_session_yields_the_same_decisions_and_experiences(kafka, tmp_path) -> None:
    (tmp_path / "live").mkdir()
    (tmp_path / "replay").mkdir()
    live = LoopHarness(kafka.bootstrap_servers, tmp_path / "live", territories=TERRITORIES)
    session = tmp_path / "session.avro"
    recorder = Recorder(live.settings, session).start()
    try:
        live.start("inference")
        live.start("joiner")
        wait_for(lambda: live.metrics("inference") and live.metrics("joiner"), 60, "services")
        game = live.start("game", "--ticks", str(TICKS), "--speed", "40")
        wait_for(lambda: game.poll() is not None, 120, "the game to play its ticks")
        assert game.returncode == 0, live.log("game")
        decisions = TICKS * TERRITORIES + TERRITORIES  # the last observations are decided too
        live_experiences = experiences(live, decisions)
    finally:
        live.stop_all()
        recorded = recorder.stop()
    records = list(read(session))
    by_type = {t: [r for r in records if isinstance(r, t)] for t in (Observation, Decision, Reward)}
    assert recorded == len(records) == sum(len(v) for v in by_type.values())
    assert len(by_type[Decision]) == len(live_experiences)
    assert len(by_type[Reward]) == TICKS * TERRITORIES

    fresh = LoopHarness(kafka.bootstrap_servers, tmp_path / "replay", territories=TERRITORIES)
    try:
        fresh.start("joiner")
        fresh.start("trainer")
        wait_for(lambda: fresh.metrics("joiner") and fresh.metrics("trainer"), 60, "services")
        done = subprocess.run(
            [sys.executable, "-m", "producers.replay", str(session), "--only", "decisions,rewards"],
            env=fresh.env("replay"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "skipped 0 bad" in done.stdout
        replayed = experiences(fresh, len(live_experiences))
        assert len(replayed) == len(live_experiences)
        reader = fresh.reader("decisions")
        assert len(reader.poll_all(idle=1)) == len(by_type[Decision])
        reader.close()
        assert {e.decision.epoch for e in replayed} != {e.decision.epoch for e in live_experiences}
        assert all(e.decision.epoch.startswith("replay-") for e in replayed)
        live_sources = sorted(e.reward_source.value for e in live_experiences)
        assert sorted(e.reward_source.value for e in replayed) == live_sources
        topic = fresh.topic("experiences")

        def trainer_read() -> float:
            sample = "queen_records_consumed_total"
            return fresh.metric("trainer", sample, service="trainer", topic=topic) or 0

        wait_for(lambda: trainer_read() >= len(replayed), 60, "the trainer to read them")
    finally:
        fresh.stop_all()
