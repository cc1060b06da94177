"""Avro single-object encoding of the contract's records, with schema resolution.

Wire format (Avro specification, "Single-object encoding"): the two marker bytes C3 01, the
8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then
the Avro binary body. A reader looks the writer schema up by fingerprint and resolves it into its
own (reader) schema, so producers and consumers can evolve by the Avro rules.

Timestamps stay plain ints: the binary path uses copies of the schemas without `logicalType`
(which the canonical form, and so the fingerprint, ignores anyway).
Imports no Kafka client and no torch.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import fastavro
from fastavro.read import SchemaResolutionError

from schemas.errors import CorruptBody, InvalidRecord, NotSingleObjectEncoded, UnknownFingerprint
from schemas.fingerprint import fingerprint_bytes
from schemas.limits import DEFAULT_LIMITS, Limits
from schemas.records import (
    RECORD_TYPES,
    DeadLetter,
    Decision,
    Experience,
    ModelVersion,
    Observation,
    Promotion,
    Record,
    Reward,
    RuleSet,
)
from schemas.writer import Unsupported, compile_writer

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8
SCHEMA_DIR = Path(__file__).parent / "v1"
HISTORY_DIR = SCHEMA_DIR / "history"  # earlier writer schemas, still decodable
SCHEMA_FILES: dict[type[Record], str] = {
    Observation: "observation.avsc",
    Decision: "decision.avsc",
    Reward: "reward.avsc",
    Experience: "experience.avsc",
    ModelVersion: "model_version.avsc",
    DeadLetter: "dead_letter.avsc",
    RuleSet: "rule_set.avsc",
    Promotion: "promotion.avsc",
}

R = TypeVar("R", bound=Record)


class Codec(Protocol):
    """What services need of a codec: records to bytes and back."""

    def encode(self, record: Record) -> bytes:
        """Return the wire bytes of `record`."""
        ...

    def decode(self, data: bytes, record_type: type[R]) -> R:
        """Return the record of type `record_type` that `data` holds."""
        ...


def load_schema(record_type: type[Record]) -> dict[str, Any]:
    """Return the JSON schema (as shipped in schemas/v1) of a record type."""
    result: dict[str, Any] = json.loads((SCHEMA_DIR / SCHEMA_FILES[record_type]).read_text())
    return result


def canonical_form(schema: Mapping[str, Any]) -> str:
    """Return the Parsing Canonical Form of a JSON schema."""
    parsed = fastavro.parse_schema(dict(schema), named_schemas={})
    return str(fastavro.schema.to_parsing_canonical_form(parsed))


def fingerprint_of_schema(schema: Mapping[str, Any]) -> bytes:
    """Return the 8-byte single-object fingerprint of a JSON schema."""
    return fingerprint_bytes(canonical_form(schema))


def _strip_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


def _parse_binary(schema: Mapping[str, Any]) -> Any:
    return fastavro.parse_schema(_strip_logical_types(dict(schema)), named_schemas={})


def _full_name(schema: Mapping[str, Any]) -> str:
    namespace = schema.get("namespace")
    return f"{namespace}.{schema['name']}" if namespace else str(schema["name"])


class AvroSingleObjectCodec:
    """Encodes records with the current schemas; decodes any registered writer schema."""

    def __init__(
        self,
        reader_schemas: Mapping[type[Record], Mapping[str, Any]],
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """Build a codec whose reader (and writer) schema per record type is given.

        `limits` bound every record it encodes or decodes (schemas.limits).
        """
        self.limits = limits
        self._readers: dict[type[Any], tuple[bytes, Any]] = {}
        self._writers: dict[bytes, tuple[str, Any]] = {}
        self._compiled: dict[type[Any], Callable[[Any], bytes]] = {}  # else fastavro writes
        for record_type, schema in reader_schemas.items():
            fingerprint = self.register(schema)
            self._readers[record_type] = (fingerprint, self._writers[fingerprint][1])
            with contextlib.suppress(Unsupported):
                self._compiled[record_type] = compile_writer(_strip_logical_types(dict(schema)))

    @classmethod
    def default(cls, limits: Limits = DEFAULT_LIMITS) -> AvroSingleObjectCodec:
        """Return a codec for the schemas shipped in schemas/v1, reading their earlier versions.

        schemas/v1/history keeps every writer schema a release has shipped before the current
        one, so records written by older producers (or kept on a compacted topic) stay readable.
        """
        codec = cls({t: load_schema(t) for t in RECORD_TYPES}, limits)
        for path in sorted(HISTORY_DIR.glob("*.avsc")):
            codec.register(json.loads(path.read_text()))
        return codec

    def register(self, writer_schema: Mapping[str, Any]) -> bytes:
        """Make an (older or newer) writer schema decodable; return its fingerprint."""
        fingerprint = fingerprint_of_schema(writer_schema)
        self._writers[fingerprint] = (_full_name(writer_schema), _parse_binary(writer_schema))
        return fingerprint

    def fingerprint(self, record_type: type[Record]) -> bytes:
        """Return the fingerprint this codec writes for a record type."""
        return self._readers[record_type][0]

    def encode(self, record: Record) -> bytes:
        """Validate `record` and return its single-object encoding.

        The body comes from the writer compiled for the record's schema (schemas/writer.py),
        or from fastavro for a schema it does not compile; both write the same bytes.
        """
        _validate(record, self.limits)
        fingerprint, schema = self._readers[type(record)]
        write = self._compiled.get(type(record))
        try:
            if write is not None:
                return MARKER + fingerprint + write(record)
            out = io.BytesIO()
            out.write(MARKER)
            out.write(fingerprint)
            fastavro.schemaless_writer(out, schema, record.to_avro(), strict=True)
            return out.getvalue()
        except (
            TypeError,
            ValueError,
            AttributeError,
            KeyError,
            OverflowError,
            struct.error,
        ) as exc:
            msg = f"{type(record).__name__} does not fit its schema: {exc}"
            raise InvalidRecord(msg) from exc

    def decode(self, data: bytes, record_type: type[R]) -> R:
        """Return the validated record of type `record_type` that `data` holds.

        Raises:
            NotSingleObjectEncoded: no marker, or shorter than the 10-byte header.
            UnknownFingerprint: the writer schema is not registered.
            CorruptBody: the body is truncated, has trailing bytes, or does not decode.
            InvalidRecord: the value is outside the contract, or of another record type, or
                the record is larger than its type may be (checked before decoding).
        """
        limit = self.limits.max_bytes(record_type.AVRO_NAME)
        if len(data) > limit:
            msg = f"{record_type.__name__} of {len(data)} bytes: at most {limit} are read"
            raise InvalidRecord(msg)
        if len(data) < HEADER_SIZE or data[:2] != MARKER:
            head = bytes(data[:2]).hex() or "empty"
            msg = f"not Avro single-object encoded: {len(data)} bytes starting {head}"
            raise NotSingleObjectEncoded(msg)
        fingerprint = bytes(data[2:HEADER_SIZE])
        writer = self._writers.get(fingerprint)
        if writer is None:
            msg = f"unknown writer schema fingerprint {fingerprint.hex()}"
            raise UnknownFingerprint(msg)
        reader_fingerprint, reader_schema = self._readers[record_type]
        writer_name, writer_schema = writer
        if writer_name != record_type.AVRO_NAME:
            msg = f"written as {writer_name}, cannot be read as {record_type.AVRO_NAME}"
            raise InvalidRecord(msg)
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        resolve_into = None if fingerprint == reader_fingerprint else reader_schema
        try:
            value = fastavro.schemaless_reader(body, writer_schema, resolve_into)
        except SchemaResolutionError as exc:
            msg = f"{writer_name} writer schema does not resolve into the reader's: {exc}"
            raise InvalidRecord(msg) from exc
        except Exception as exc:  # fastavro raises many types on bad bytes
            msg = f"{writer_name} body does not decode: {type(exc).__name__}: {exc}"
            raise CorruptBody(msg) from exc
        if body.tell() != len(data):
            msg = f"{writer_name} body has {len(data) - body.tell()} trailing bytes"
            raise CorruptBody(msg)
        try:
            record = record_type.from_avro(value)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRecord(f"{writer_name} does not fit its record: {exc!r}") from exc
        _validate(record, self.limits)
        return record  # type: ignore[return-value]


def _validate(record: Record, limits: Limits) -> None:
    """Run the record's own checks; a value of the wrong type is an InvalidRecord too."""
    try:
        record.validate(limits)
    except (TypeError, AttributeError) as exc:
        msg = f"{type(record).__name__} holds a value of the wrong type: {exc}"
        raise InvalidRecord(msg) from exc
