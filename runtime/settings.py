"""Settings read once from the environment (and CLI flags), validated at start.

Every service calls `from_env(os.environ)` in its `main` and nowhere else; a bad value raises
SettingsError naming the setting and the value. Services add their own frozen dataclasses built
from these helpers.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runtime.errors import SettingsError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(environ: Mapping[str, str], name: str, default: str) -> str:
    """Return the variable `name`, or `default` when unset or empty."""
    value = environ.get(name, "")
    return value if value != "" else default


def env_int(environ: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """Return the variable `name` as an int, checked against `minimum`."""
    raw = environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not an integer") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be >= {minimum}")
    return value


def env_float(
    environ: Mapping[str, str], name: str, default: float, minimum: float | None = None
) -> float:
    """Return the variable `name` as a finite float, checked against `minimum`."""
    raw = environ.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name}={raw!r}: must be finite")
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be >= {minimum}")
    return value


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """Return the variable `name` as a bool (1/0, true/false, yes/no, on/off)."""
    raw = environ.get(name, "")
    if raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r}: not a boolean (use true or false)")


def librdkafka_extra(environ: Mapping[str, str]) -> dict[str, str]:
    """Map every KAFKA_<NAME> variable but the bootstrap servers to librdkafka's <name>.

    KAFKA_SECURITY_PROTOCOL becomes security.protocol, KAFKA_SASL_MECHANISM sasl.mechanism.
    """
    return {
        name[len("KAFKA_") :].lower().replace("_", "."): value
        for name, value in environ.items()
        if name.startswith("KAFKA_") and name != "KAFKA_BOOTSTRAP_SERVERS" and value != ""
    }


@dataclass(frozen=True)
class KafkaSettings:
    """Where the brokers are and how topics are named."""

    bootstrap_servers: str = "127.0.0.1:9092"  # host:port[,host:port...]
    topic_prefix: str = "queen."  # every topic name starts with it
    partitions: int = 4  # partitions of the co-partitioned, territory-keyed topics
    extra: Mapping[str, str] = field(default_factory=dict)  # librdkafka settings, e.g. security

    def __post_init__(self) -> None:
        """Validate the values."""
        if not self.bootstrap_servers.strip():
            raise SettingsError("KAFKA_BOOTSTRAP_SERVERS='': must name at least one broker")
        if self.partitions < 1:
            raise SettingsError(f"QUEEN_PARTITIONS={self.partitions!r}: must be >= 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KafkaSettings:
        """Read KAFKA_BOOTSTRAP_SERVERS, QUEEN_TOPIC_PREFIX, QUEEN_PARTITIONS and KAFKA_*."""
        return cls(
            bootstrap_servers=env_str(environ, "KAFKA_BOOTSTRAP_SERVERS", cls.bootstrap_servers),
            topic_prefix=env_str(environ, "QUEEN_TOPIC_PREFIX", cls.topic_prefix),
            partitions=env_int(environ, "QUEEN_PARTITIONS", cls.partitions, minimum=1),
            extra=librdkafka_extra(environ),
        )

    def topic(self, name: str) -> str:
        """Return the full name of topic `name` (e.g. 'observations' -> 'queen.observations')."""
        return f"{self.topic_prefix}{name}"


@dataclass(frozen=True)
class ServiceSettings:
    """What every service has: metrics port, heartbeat file, log level."""

    metrics_port: int = 0  # 0 picks a free port; -1 serves no metrics
    heartbeat_file: str = ""  # touched by the loop; empty keeps the heartbeat in memory only
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        """Validate the values."""
        if not -1 <= self.metrics_port <= 65535:
            raise SettingsError(f"QUEEN_METRICS_PORT={self.metrics_port!r}: must be -1..65535")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"QUEEN_LOG_LEVEL={self.log_level!r}: not a log level")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServiceSettings:
        """Read QUEEN_METRICS_PORT, QUEEN_HEARTBEAT_FILE and QUEEN_LOG_LEVEL."""
        return cls(
            metrics_port=env_int(environ, "QUEEN_METRICS_PORT", cls.metrics_port, minimum=-1),
            heartbeat_file=env_str(environ, "QUEEN_HEARTBEAT_FILE", cls.heartbeat_file),
            log_level=env_str(environ, "QUEEN_LOG_LEVEL", cls.log_level),
        )


def env_with_args(
    environ: Mapping[str, str],
    argv: Sequence[str] | None,
    parser: argparse.ArgumentParser,
    flags: Mapping[str, str],
) -> dict[str, str]:
    """Return `environ` overlaid with the CLI flags given in `argv`.

    `flags` maps an argparse destination to the variable it overrides, so a flag and its
    variable share one parser and one validation (e.g. {'metrics_port': 'QUEEN_METRICS_PORT'}).
    """
    args = parser.parse_args(argv)
    merged = dict(environ)
    for dest, variable in flags.items():
        value = getattr(args, dest, None)
        if value is not None:
            merged[variable] = str(value)
    return merged
