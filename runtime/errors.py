"""The runtime's exception tree. Imports no Kafka client."""


class RuntimeFailure(Exception):
    """Base of the plumbing's errors."""


class SettingsError(RuntimeFailure, ValueError):
    """A setting has a bad value; the message names the setting and the value."""


class KafkaFatalError(RuntimeFailure):
    """The Kafka client reported an error the service cannot go on after."""

    def __init__(self, message: str, code: int | None = None) -> None:
        """Keep the librdkafka error code beside the message."""
        super().__init__(message)
        self.code = code


class TopicMismatchError(RuntimeFailure):
    """Existing topics do not match what the loop needs (e.g. co-partitioning broken)."""
