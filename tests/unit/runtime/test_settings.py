import argparse

import pytest

from runtime.errors import SettingsError
from runtime.kafka import _config
from runtime.settings import (
    KafkaSettings,
    ServiceSettings,
    env_bool,
    env_float,
    env_int,
    env_with_args,
    librdkafka_extra,
)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: env_int({"QUEEN_X": "abc"}, "QUEEN_X", 1), "QUEEN_X='abc': not an integer"),
        (lambda: env_int({"QUEEN_X": "-3"}, "QUEEN_X", 1, minimum=0), "QUEEN_X='-3': must be >= 0"),
        (lambda: env_float({"QUEEN_Y": "nan"}, "QUEEN_Y", 1.0), "QUEEN_Y='nan': must be finite"),
        (lambda: env_float({"QUEEN_Y": "1,5"}, "QUEEN_Y", 1.0), "QUEEN_Y='1,5': not a number"),
        (lambda: env_bool({"QUEEN_Z": "maybe"}, "QUEEN_Z", True), "QUEEN_Z='maybe': not a boolean"),
        (lambda: KafkaSettings.from_env({"QUEEN_PARTITIONS": "0"}), "QUEEN_PARTITIONS='0'"),
        (lambda: ServiceSettings.from_env({"QUEEN_METRICS_PORT": "70000"}), "70000"),
        (lambda: ServiceSettings.from_env({"QUEEN_LOG_LEVEL": "LOUD"}), "QUEEN_LOG_LEVEL='LOUD'"),
    ],
)
def test_bad_values_name_the_setting_and_the_value(call, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        call()


def test_unset_or_empty_variables_take_the_default():
    assert env_int({"A": ""}, "A", 7) == 7
    assert env_bool({}, "B", False) is False
    assert KafkaSettings.from_env({}) == KafkaSettings()


def test_kafka_variables_pass_through_as_librdkafka_settings():
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": "b1:9093,b2:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SSL_CA_LOCATION": "/etc/ca.pem",
        "QUEEN_PARTITIONS": "8",
        "OTHER": "x",
    }
    settings = KafkaSettings.from_env(environ)
    assert settings.bootstrap_servers == "b1:9093,b2:9093"
    assert settings.partitions == 8
    assert (
        settings.extra
        == librdkafka_extra(environ)
        == {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "ssl.ca.location": "/etc/ca.pem",
        }
    )
    config = _config(settings, {"acks": "all"}, {"linger.ms": 5})
    assert config["security.protocol"] == "SASL_SSL"
    assert config["bootstrap.servers"] == "b1:9093,b2:9093"
    assert config["acks"] == "all" and config["linger.ms"] == 5


def test_cli_flags_override_the_environment_through_the_same_validation():
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics-port", type=int)
    merged = env_with_args(
        {"QUEEN_METRICS_PORT": "9000"},
        ["--metrics-port", "9100"],
        parser,
        {"metrics_port": "QUEEN_METRICS_PORT"},
    )
    assert ServiceSettings.from_env(merged).metrics_port == 9100
    bad = env_with_args(
        {}, ["--metrics-port", "-5"], parser, {"metrics_port": "QUEEN_METRICS_PORT"}
    )
    with pytest.raises(SettingsError, match="QUEEN_METRICS_PORT='-5'"):
        ServiceSettings.from_env(bad)


def test_kafka_variables_that_name_no_librdkafka_setting_are_ignored_with_one_warning(caplog):
    env = {
        "KAFKA_HOME": "/opt/kafka",  # a Kafka installation's
        "KAFKA_PORT": "tcp://10.0.0.7:9092",  # what a Service named kafka injects
        "KAFKA_PORT_9092_TCP_ADDR": "10.0.0.7",
        "KAFKA_SECURITY_PROTOCOL": "SSL",
    }
    with caplog.at_level("WARNING"):
        assert librdkafka_extra(env) == {"security.protocol": "SSL"}
    (line,) = [r.getMessage() for r in caplog.records]
    assert "KAFKA_HOME" in line and "KAFKA_PORT, " in line and "KAFKA_PORT_9092_TCP_ADDR" in line


def test_a_value_librdkafka_refuses_fails_at_start_naming_the_variable():
    with pytest.raises(SettingsError, match="KAFKA_SECURITY_PROTOCOL='bogus'"):
        librdkafka_extra({"KAFKA_SECURITY_PROTOCOL": "bogus"})


def test_secrets_never_show_in_a_repr():
    settings = KafkaSettings.from_env(
        {"KAFKA_SASL_PASSWORD": "hunter2", "KAFKA_SSL_KEY_PASSWORD": "s3cret"}
    )
    text = repr(settings) + str(settings)
    assert "hunter2" not in text and "s3cret" not in text and "***" in text


def test_unknown_queen_variables_are_warned_about(caplog):
    from runtime.settings import warn_unknown_variables

    env = {"QUEEN_PARTITONS": "8", "QUEEN_PARTITIONS": "8", "QUEEN_TRAINER_BATCH_SIZE": "16"}
    with caplog.at_level("WARNING"):
        assert warn_unknown_variables(env) == ["QUEEN_PARTITONS"]
    assert "QUEEN_PARTITONS" in caplog.text


def test_json_logs_carry_service_version_and_record_context(capsys):
    import json
    import logging

    from runtime.logs import configure_logging

    configure_logging("joiner", "INFO", "json")
    logging.getLogger("x").warning("dead letter", extra={"topic": "t", "partition": 3, "offset": 9})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (
        line["service"] == "joiner"
        and line["level"] == "WARNING"
        and line["message"] == "dead letter"
    )
    assert (line["topic"], line["partition"], line["offset"]) == ("t", 3, 9) and line["version"]
    configure_logging("joiner", "INFO")  # back to text for the other tests
    with pytest.raises(SettingsError, match="QUEEN_LOG_FORMAT='xml'"):
        ServiceSettings.from_env({"QUEEN_LOG_FORMAT": "xml"})
