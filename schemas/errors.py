"""The codec's exception tree: one class per way a record can fail, each with its ErrorKind.

Services turn these into DeadLetter events; `kind` is what they record. No Kafka here.
"""

from schemas.enums import ErrorKind


class SchemaError(Exception):
    """Base of every contract error; `kind` names the failure for dead letters."""

    kind: ErrorKind = ErrorKind.PROCESSING_ERROR


class NotSingleObjectEncoded(SchemaError):
    """The bytes do not start with the Avro single-object marker C3 01, or are too short."""

    kind = ErrorKind.NOT_SINGLE_OBJECT


class UnknownFingerprint(SchemaError):
    """The writer schema's fingerprint is not one this reader knows."""

    kind = ErrorKind.UNKNOWN_FINGERPRINT


class CorruptBody(SchemaError):
    """The Avro body is truncated, has trailing bytes, or does not decode."""

    kind = ErrorKind.CORRUPT_BODY


class InvalidRecord(SchemaError):
    """A value is outside the contract: wrong type, not finite, out of range, wrong length."""

    kind = ErrorKind.INVALID_RECORD
