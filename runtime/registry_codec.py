"""The Confluent wire format, through a Schema Registry: for tools that read only that.

The default codec (schemas/codec.py) writes Avro single-object encoding and needs no server.
Kafka Connect's AvroConverter, ksqlDB, Flink's `avro-confluent` format and Spark's
`from_avro` with a registry read the Confluent framing instead: a zero magic byte, the
registry's 4-byte schema id, the Avro body. With `QUEEN_SCHEMA_REGISTRY_URL` set, every service
writes and reads that framing through confluent-kafka's own AvroSerializer and
AvroDeserializer (so the bytes are theirs), registering each schema under its record's full
name (RecordNameStrategy: one subject per event type, whatever the topic). Everything else a
record goes through stays the same: the size limit before decoding, the contract's checks
after, the same errors for dead letters. A reader resolves the writer schema the id names into
the current one by the Avro rules.

This module imports confluent_kafka (the registry client), so it lives in runtime/, not in
schemas/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

from schemas.codec import SCHEMA_FILES, _strip_logical_types, _validate, load_schema
from schemas.errors import CorruptBody, InvalidRecord, NotSingleObjectEncoded, UnknownFingerprint
from schemas.limits import DEFAULT_LIMITS, Limits
from schemas.records import Record

R = TypeVar("R", bound=Record)
MAGIC = b"\x00"
HEADER = 5  # the magic byte and the 4-byte schema id


def _to_dict(record: Any, _ctx: SerializationContext) -> dict[str, Any]:
    value: dict[str, Any] = record.to_avro()
    return value


class ConfluentWireCodec:
    """Encodes records in the Confluent wire format; decodes any schema id the registry knows."""

    def __init__(
        self,
        client: SchemaRegistryClient,
        limits: Limits = DEFAULT_LIMITS,
        auto_register: bool = True,
    ) -> None:
        """Use `client`; register schemas on first use unless `auto_register` is False."""
        self.client = client
        self.limits = limits
        conf = {
            "auto.register.schemas": auto_register,
            "subject.name.strategy": record_subject_name_strategy,
        }
        self._serializers: dict[type, AvroSerializer] = {}
        self._deserializers: dict[type, AvroDeserializer] = {}
        for record_type in SCHEMA_FILES:
            text = json.dumps(_strip_logical_types(load_schema(record_type)))
            self._serializers[record_type] = AvroSerializer(client, text, _to_dict, conf)
            self._deserializers[record_type] = AvroDeserializer(client, text)

    @staticmethod
    def connect(url: str, extra: Mapping[str, str] | None = None) -> SchemaRegistryClient:
        """A registry client for `url` (`mock://...` is confluent-kafka's in-memory one)."""
        return SchemaRegistryClient.new_client({"url": url, **(extra or {})})

    def encode(self, record: Record) -> bytes:
        """Validate `record` and return its Confluent-framed Avro encoding."""
        _validate(record, self.limits)
        context = SerializationContext("queenloop", MessageField.VALUE)
        try:
            data = self._serializers[type(record)](record, context)
        except (SerializationError, SchemaRegistryError, TypeError, ValueError) as exc:
            raise InvalidRecord(f"{type(record).__name__} does not fit its schema: {exc}") from exc
        return bytes(data or b"")

    def decode(self, data: bytes, record_type: type[R]) -> R:
        """Return the validated record of type `record_type` that `data` holds."""
        limit = self.limits.max_bytes(record_type.AVRO_NAME)
        if len(data) > limit:
            raise InvalidRecord(f"{record_type.__name__} of {len(data)} bytes: at most {limit}")
        if len(data) < HEADER or data[:1] != MAGIC:
            head = bytes(data[:1]).hex() or "empty"
            raise NotSingleObjectEncoded(f"not Confluent-framed: {len(data)} bytes starting {head}")
        schema_id = int.from_bytes(data[1:HEADER], "big")
        try:
            self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            raise UnknownFingerprint(f"unknown schema id {schema_id}: {exc}") from exc
        context = SerializationContext("queenloop", MessageField.VALUE)
        try:
            value = self._deserializers[record_type](data, context)
        except Exception as exc:  # the deserializer raises many types on bad bytes
            raise CorruptBody(f"schema id {schema_id}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(value, dict):
            raise CorruptBody(f"schema id {schema_id}: no record in the body")
        try:
            record = record_type.from_avro(value)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRecord(f"schema id {schema_id} is not a {record_type.__name__}") from exc
        _validate(record, self.limits)
        return record  # type: ignore[return-value]
