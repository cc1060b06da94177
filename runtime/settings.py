"""Settings read once from the environment (and CLI flags), validated at start.

Every service calls `from_env(os.environ)` in its `main` and nowhere else; a bad value raises
SettingsError naming the setting and the value. Services add their own frozen dataclasses built
from these helpers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, Producer

from runtime.errors import SettingsError
from runtime.event_clock import SkewLimits
from schemas.limits import Limits

logger = logging.getLogger(__name__)

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
    """Map every KAFKA_<NAME> variable that names a librdkafka setting to that setting.

    KAFKA_SECURITY_PROTOCOL becomes security.protocol, KAFKA_SASL_MECHANISM sasl.mechanism.
    Variables that name no librdkafka setting (KAFKA_HOME of a Kafka installation, the
    KAFKA_PORT... that Kubernetes service links inject for a Service named kafka) are left out
    with one warning naming them; a setting librdkafka refuses the value of raises
    SettingsError naming the variable and the value.
    """
    extra: dict[str, str] = {}
    ignored: list[str] = []
    for name, value in sorted(environ.items()):
        if not name.startswith("KAFKA_") or name == "KAFKA_BOOTSTRAP_SERVERS" or value == "":
            continue
        setting = name[len("KAFKA_") :].lower().replace("_", ".")
        problem = _librdkafka_refuses(setting, value)
        if problem is None:
            extra[setting] = value
        elif problem.startswith("No such configuration property"):
            ignored.append(name)
        else:
            raise SettingsError(f"{name}={_shown(setting, value)}: {problem}")
    if ignored:
        logger.warning(
            "ignoring %s: not librdkafka settings (KAFKA_<SETTING> passes only real ones)",
            ", ".join(ignored),
        )
    return extra


def _librdkafka_refuses(setting: str, value: str) -> str | None:
    """Librdkafka's complaint about `setting=value` alone, or None when it takes it.

    Only an unknown name or a value the setting can never take counts: a setting that needs
    others beside it (security.protocol=SASL_SSL and sasl.mechanism) is judged by the client
    built from them all.
    """
    try:
        Producer({"log_level": 0, setting: value})
    except KafkaException as exc:
        problem = str(exc.args[0].str())
        if problem.startswith(("No such configuration property", "Invalid value")):
            return problem
    return None


SECRET_WORDS = ("password", "secret", "token", "key", "jaas", "credential")


def is_secret(setting: str) -> bool:
    """True for settings whose values must never be shown (passwords, keys, tokens)."""
    return any(word in setting.lower() for word in SECRET_WORDS)


def _shown(setting: str, value: str) -> str:
    return "'***'" if is_secret(setting) else repr(value)


@dataclass(frozen=True, repr=False)
class KafkaSettings:
    """Where the brokers are and how topics are named."""

    bootstrap_servers: str = "127.0.0.1:9092"  # host:port[,host:port...]
    topic_prefix: str = "queen."  # every topic name starts with it
    partitions: int = 4  # partitions of the co-partitioned, territory-keyed topics
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)  # librdkafka settings

    def __repr__(self) -> str:
        """Show the settings with every secret value masked."""
        extra = {k: ("***" if is_secret(k) else v) for k, v in self.extra.items()}
        return (
            f"KafkaSettings(bootstrap_servers={self.bootstrap_servers!r}, "
            f"topic_prefix={self.topic_prefix!r}, partitions={self.partitions}, extra={extra})"
        )

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
    """What every service has: metrics, heartbeat, logs, and how it reacts to trouble."""

    metrics_port: int = 0  # 0 picks a free port; -1 serves no metrics
    heartbeat_file: str = ""  # touched by the loop; empty keeps the heartbeat in memory only
    log_level: str = "INFO"  # DEBUG, INFO, WARNING or ERROR
    log_format: str = "text"  # text, or json: one JSON object per line (service, version, ...)
    shutdown_grace_s: float = 20.0  # after SIGTERM, exit within this many seconds whatever
    watch_interval_s: float = 5.0  # seconds between checks that the topics are still the same
    unreachable_exit_s: float = 60.0  # exit (code 4) when the cluster has not answered this long

    def __post_init__(self) -> None:
        """Validate the values."""
        if not -1 <= self.metrics_port <= 65535:
            raise SettingsError(f"QUEEN_METRICS_PORT={self.metrics_port!r}: must be -1..65535")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(f"QUEEN_LOG_LEVEL={self.log_level!r}: not a log level")
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"QUEEN_LOG_FORMAT={self.log_format!r}: must be text or json")
        for name in ("shutdown_grace_s", "watch_interval_s", "unreachable_exit_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"QUEEN_{name.upper()}={getattr(self, name)!r}: must be > 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServiceSettings:
        """Read QUEEN_METRICS_PORT, QUEEN_HEARTBEAT_FILE, QUEEN_LOG_LEVEL and the timeouts."""
        d = cls
        return cls(
            metrics_port=env_int(environ, "QUEEN_METRICS_PORT", d.metrics_port, minimum=-1),
            heartbeat_file=env_str(environ, "QUEEN_HEARTBEAT_FILE", d.heartbeat_file),
            log_level=env_str(environ, "QUEEN_LOG_LEVEL", d.log_level),
            log_format=env_str(environ, "QUEEN_LOG_FORMAT", d.log_format),
            shutdown_grace_s=env_float(environ, "QUEEN_SHUTDOWN_GRACE_S", d.shutdown_grace_s),
            watch_interval_s=env_float(environ, "QUEEN_WATCH_INTERVAL_S", d.watch_interval_s),
            unreachable_exit_s=env_float(environ, "QUEEN_UNREACHABLE_EXIT_S", d.unreachable_exit_s),
        )


@dataclass(frozen=True)
class EventTimeSettings:
    """How far an event time may stray (runtime/event_clock.py); joiner and trainer check it."""

    max_ahead_s: float = 3600.0  # game seconds past the newest event time of its epoch
    max_behind_s: float = 3600.0  # game seconds before it
    max_wall_skew_s: float = 365 * 24 * 3600.0  # the first record of an epoch vs the wall clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EventTimeSettings:
        """Read QUEEN_EVENT_TIME_MAX_AHEAD_S, _MAX_BEHIND_S and _MAX_WALL_SKEW_S."""
        d = cls
        return cls(
            max_ahead_s=env_float(environ, "QUEEN_EVENT_TIME_MAX_AHEAD_S", d.max_ahead_s, 1.0),
            max_behind_s=env_float(environ, "QUEEN_EVENT_TIME_MAX_BEHIND_S", d.max_behind_s, 1.0),
            max_wall_skew_s=env_float(
                environ, "QUEEN_EVENT_TIME_MAX_WALL_SKEW_S", d.max_wall_skew_s, 1.0
            ),
        )

    def limits(self) -> SkewLimits:
        """The limits in milliseconds."""
        return SkewLimits(
            int(self.max_ahead_s * 1000),
            int(self.max_behind_s * 1000),
            int(self.max_wall_skew_s * 1000),
        )


@dataclass(frozen=True, repr=False)
class CodecSettings:
    """Which wire format the services write and read (docs/events.md)."""

    # empty: Avro single-object encoding (no server); a URL: the Confluent wire format through
    # that Schema Registry (mock://NAME is confluent-kafka's in-memory registry, for tests)
    schema_registry_url: str = ""
    schema_registry_basic_auth: str = ""  # user:password for the registry (a secret)
    schema_registry_auto_register: bool = True  # register schemas on first use

    def __repr__(self) -> str:
        """Never the credentials."""
        return f"CodecSettings(schema_registry_url={self.schema_registry_url!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CodecSettings:
        """Read QUEEN_SCHEMA_REGISTRY_URL, _BASIC_AUTH and _AUTO_REGISTER."""
        d = cls
        return cls(
            schema_registry_url=env_str(environ, "QUEEN_SCHEMA_REGISTRY_URL", ""),
            schema_registry_basic_auth=env_str(environ, "QUEEN_SCHEMA_REGISTRY_BASIC_AUTH", ""),
            schema_registry_auto_register=env_bool(
                environ, "QUEEN_SCHEMA_REGISTRY_AUTO_REGISTER", d.schema_registry_auto_register
            ),
        )


@dataclass(frozen=True)
class TopicSettings:
    """How `python -m runtime.topics` creates topics."""

    replication: int = 1  # replicas of every topic; above 1, min.insync.replicas is one less

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TopicSettings:
        """Read QUEEN_TOPIC_REPLICATION."""
        return cls(replication=env_int(environ, "QUEEN_TOPIC_REPLICATION", cls.replication, 1))


def limits_from_env(environ: Mapping[str, str]) -> Limits:
    """Read the contract's limits from QUEEN_LIMIT_<FIELD> (schemas/limits.py, defaults)."""
    values: dict[str, object] = {}
    for f in dataclasses.fields(Limits):
        name, default = f"QUEEN_LIMIT_{f.name.upper()}", f.default
        if isinstance(default, int):
            values[f.name] = env_int(environ, name, default, minimum=1)
        else:
            values[f.name] = env_float(environ, name, float(default))  # type: ignore[arg-type]
    try:
        return Limits(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


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


# Modules whose settings classes (anything with a `from_env`) define the QUEEN_* variables.
SETTINGS_MODULES = (
    "runtime.settings",
    "producers.game.settings",
    "consumers.inference.settings",
    "consumers.joiner.settings",
    "consumers.promoter.settings",
    "trainer.settings",
    "trainer.service_settings",
)


class _Recording(dict[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default


def known_variables() -> set[str]:
    """Every variable some settings class of the project reads."""
    import importlib
    import inspect

    env = _Recording()
    for name in SETTINGS_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and hasattr(cls, "from_env"):
                # a required setting is missing: its name was asked for all the same
                with contextlib.suppress(SettingsError, ValueError):
                    cls.from_env(env)
    limits_from_env(env)
    return env.asked


def warn_unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Warn once about QUEEN_* variables no setting reads (a misspelt QUEEN_PARTITONS)."""
    known = known_variables()
    unknown = sorted(n for n in environ if n.startswith("QUEEN_") and n not in known)
    if unknown:
        logger.warning("ignoring unknown variables %s (no setting reads them)", ", ".join(unknown))
    return unknown
