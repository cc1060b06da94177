"""The testcontainers broker is configured for what the tests need (checked without Docker)."""

import inspect

from tests.conftest import CONTAINER_ENV, kafka_container


def test_the_container_broker_supports_transactions_on_one_broker():
    assert CONTAINER_ENV["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert CONTAINER_ENV["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert CONTAINER_ENV["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "CONTAINER_ENV.items()" in inspect.getsource(kafka_container)
