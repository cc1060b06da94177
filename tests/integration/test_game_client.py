"""The game-side client against a real broker: decisions by observation_id, deadlines, fallbacks.

A stand-in inference (tests/integration/echo_inference.py) answers observations; the client
under test is the one a game server embeds (producers/client).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from producers.client import (
    AsyncGameClient,
    ClientConfig,
    Fallback,
    GameClient,
    TerritoryState,
)
from producers.client.sync import partition_of
from runtime.kafka import make_admin
from runtime.settings import KafkaSettings
from runtime.topics import REWARDS, ensure_topics, topic_specs
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import DecisionStatus, GateDecision
from schemas.records import Reward
from tests.conftest import Broker
from tests.integration.echo_inference import EchoInference
from tests.integration.kafka_helpers import TopicReader, wait_for

CODEC = AvroSingleObjectCodec.default()


def state(territory: str = "t-0001") -> TerritoryState:
    return TerritoryState(
        territory, 1, 100.0, 10.0, 2.0, 0.9, 0, (0.1,) * 8, (1,) * 8, (2, 1, 0, 0)
    )


@pytest.fixture
def settings(kafka: Broker, topic_prefix: str) -> KafkaSettings:
    settings = kafka.settings(topic_prefix)
    ensure_topics(make_admin(settings), topic_specs(settings))
    return settings


@pytest.fixture
def client(settings: KafkaSettings) -> Iterator[GameClient]:
    with GameClient(settings, ClientConfig(deadline_s=5.0, territories=("t-0001",))) as c:
        yield c


def test_a_decision_comes_back_for_its_observation_and_the_reward_names_both(
    settings: KafkaSettings, client: GameClient
) -> None:
    with EchoInference(settings):
        served = client.decide(state())
        served2 = client.decide(state())
    assert served.decision is not None and served.fallback is None
    assert served.decision.observation_id == served.observation.observation_id
    assert served.send and served.action == served.decision.action
    assert (served.observation.seq, served2.observation.seq) == (0, 1)
    assert served.observation.epoch == client.epoch
    client.report(served, 0.25, {"income": 0.25})
    rewards = TopicReader(settings, settings.topic(REWARDS), settings.partitions)
    try:
        [message] = rewards.until(1)
    finally:
        rewards.close()
    reward = CODEC.decode(message.value(), Reward)
    assert reward.observation_id == served.observation.observation_id
    assert reward.decision_id == served.decision.decision_id
    assert reward.decision_status is DecisionStatus.APPLIED
    assert (reward.epoch, reward.seq) == (client.epoch, 0)
    stats = client.stats()
    assert stats.served == 2 and stats.fallback_total == 0


def test_no_decision_by_the_deadline_serves_the_fallback_and_the_late_one_is_counted(
    settings: KafkaSettings,
) -> None:
    config = ClientConfig(deadline_s=0.3, fallback=Fallback.LAST_ACTION, territories=("t-0001",))
    with GameClient(settings, config) as client, EchoInference(settings) as inference:
        first = client.decide(state(), deadline_s=5.0)
        assert first.decision is not None
        inference.paused.set()
        started = time.monotonic()
        missed = client.decide(state())
        waited = time.monotonic() - started
        assert missed.decision is None and missed.fallback == "deadline"
        assert missed.action == first.action and missed.send  # the last action served
        assert 0.3 <= waited < 1.5
        inference.paused.clear()  # the held decision goes out now: late
        wait_for(lambda: client.stats().verdicts["late"] == 1, 10, "the late decision")
        stats = client.stats()
        assert stats.fallbacks == {"deadline": 1} and stats.served == 1
        assert client.metrics.fallbacks.labels(reason="deadline")._value.get() == 1
        reward = client.report(missed, -0.1, {"income": -0.1})
        assert reward.decision_id is None and reward.decision_status is DecisionStatus.MISSING


def test_the_wait_fallback_spawns_nothing_and_a_wait_decision_is_not_sent(
    settings: KafkaSettings,
) -> None:
    with GameClient(settings, ClientConfig(deadline_s=0.2)) as client:
        served = client.decide(state("t-0002"))  # nobody answers
        assert (served.decision, served.action, served.send) == (None, None, False)
    with (
        GameClient(settings, ClientConfig(deadline_s=5.0)) as client,
        EchoInference(settings, GateDecision.WAIT),
    ):
        served = client.decide(state("t-0003"))
        assert served.decision is not None and not served.send
        assert client.report(served, 0.0, {}).decision_status is DecisionStatus.WAITED


def test_a_client_reads_only_the_partitions_of_its_territories(settings: KafkaSettings) -> None:
    mine, other = (
        "t-0001",
        next(
            f"t-{i:04d}"
            for i in range(2, 100)
            if partition_of(f"t-{i:04d}", settings.partitions)
            != partition_of("t-0001", settings.partitions)
        ),
    )
    with (
        GameClient(settings, ClientConfig(deadline_s=5.0, territories=(mine,))) as a,
        GameClient(settings, ClientConfig(deadline_s=5.0, territories=(other,))) as b,
        EchoInference(settings),
    ):
        for _ in range(3):
            assert a.decide(state(mine)).decision is not None
        assert b.decide(state(other)).decision is not None
        # b saw none of a's three decisions: they are on a partition b does not read
        assert sum(b.stats().verdicts.values()) == 1
        assert b.stats().verdicts["unknown"] == 0


def test_the_asyncio_client_awaits_decisions_concurrently(settings: KafkaSettings) -> None:
    async def main() -> list[object]:
        async with AsyncGameClient(settings, ClientConfig(deadline_s=5.0)) as client:
            with EchoInference(settings):
                return list(
                    await asyncio.gather(*(client.decide(state(f"t-{i:04d}")) for i in range(16)))
                )

    served = asyncio.run(main())
    assert all(s.decision is not None for s in served)  # type: ignore[attr-defined]


def test_decisions_flow_again_after_the_broker_is_restarted_with_its_topics() -> None:
    """The broker dies (Tansu loses everything); decide() serves fallbacks, never raises;
    a new broker on the same address gets the topics again and decisions flow, same client."""
    from runtime.broker import EmbeddedBroker, free_port

    port = free_port()
    broker = EmbeddedBroker(port=port).start()
    settings = KafkaSettings(broker.bootstrap_servers, "reconnect.", 2)
    ensure_topics(make_admin(settings), topic_specs(settings))
    client = GameClient(settings, ClientConfig(deadline_s=0.5, territories=("t-0001",)))
    try:
        with EchoInference(settings):
            assert client.decide(state(), deadline_s=10).decision is not None
        broker.stop()
        down = client.decide(state())
        assert down.decision is None and down.fallback in ("deadline", "publish_failed")
        broker = EmbeddedBroker(port=port).start()
        ensure_topics(make_admin(settings), topic_specs(settings))
        with EchoInference(settings):
            wait_for(lambda: client.decide(state()).decision is not None, 60, "a decision again", 0)
        assert client.stats().served >= 2
    finally:
        client.close(timeout=2)
        broker.stop()
