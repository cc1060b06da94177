"""The compiled writer writes the very bytes fastavro writes, for every record type."""

import dataclasses
import io
import struct

import fastavro
import pytest
from hypothesis import given, settings

from schemas.codec import SCHEMA_FILES, AvroSingleObjectCodec, _parse_binary, load_schema
from schemas.errors import InvalidRecord
from schemas.records import RECORD_TYPES
from schemas.writer import Unsupported, compile_writer
from tests import samples
from tests.unit.schemas.strategies import BY_TYPE

CODEC = AvroSingleObjectCodec.default()


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_every_record_type_is_written_byte_for_byte_as_fastavro_writes_it(record_type):
    schema = load_schema(record_type)
    write, parsed = compile_writer(schema), _parse_binary(schema)

    @settings(max_examples=80, deadline=None)
    @given(BY_TYPE[record_type])
    def same_bytes(record):
        reference = io.BytesIO()
        fastavro.schemaless_writer(reference, parsed, record.to_avro(), strict=True)
        assert write(record) == reference.getvalue()

    same_bytes()


def test_the_codec_compiles_every_shipped_schema():
    assert set(CODEC._compiled) == set(SCHEMA_FILES)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"rules_version": 2**31}, "2147483648 is not an Avro int"),
        ({"territory_id": 7}, "Decision holds a value of the wrong type"),
        ({"gate_version": b"v1"}, "Decision does not fit its schema"),
    ],
)
def test_values_beyond_their_avro_type_are_refused(change, pattern):
    with pytest.raises(InvalidRecord, match=pattern):
        CODEC.encode(dataclasses.replace(samples.decision(), **change))


def test_a_long_beyond_64_bits_is_refused_by_the_writer():
    with pytest.raises(InvalidRecord, match="9223372036854775808 is not an Avro long"):
        CODEC.encode(dataclasses.replace(samples.dead_letter(), offset=2**63))


def test_a_feature_beyond_its_range_is_refused_by_the_codec_and_beyond_float32_by_the_writer():
    features = (1e39,) + (0.5,) * 27
    with pytest.raises(InvalidRecord, match=r"Decision.features\[0\]=1e\+39: must be in"):
        CODEC.encode(samples.decision(features=features))
    write = compile_writer(load_schema(type(samples.decision())))
    with pytest.raises((OverflowError, struct.error)):
        write(samples.decision(features=features))


def test_types_it_does_not_know_are_left_to_fastavro():
    with pytest.raises(Unsupported):
        compile_writer(
            {"type": "record", "name": "X", "fields": [{"name": "b", "type": "boolean"}]}
        )
    with pytest.raises(Unsupported):
        union = {"name": "u", "type": ["string", "long", "null"]}
        compile_writer({"type": "record", "name": "Y", "fields": [union]})
    with pytest.raises(Unsupported, match="recursive"):  # a linked list refers to itself
        tail = {"name": "next", "type": ["null", "Node"]}
        compile_writer({"type": "record", "name": "Node", "fields": [tail]})
    with pytest.raises(Unsupported):  # a name never defined is not a type it knows
        compile_writer({"type": "record", "name": "Z", "fields": [{"name": "a", "type": "Q"}]})


def test_a_named_type_is_written_again_where_it_is_referenced():
    shadowed = samples.decision_with_shadow()  # Shadow.action refers to Action by name
    write = compile_writer(load_schema(type(shadowed)))
    schema = fastavro.parse_schema(load_schema(type(shadowed)), named_schemas={})
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, shadowed.to_avro())
    assert write(shadowed) == body.getvalue()


@dataclasses.dataclass(frozen=True)
class _Flag:
    """A record of a type the writer does not compile (boolean)."""

    AVRO_NAME = "test.Flag"
    on: bool

    def validate(self, limits: object = None) -> None:
        pass

    def to_avro(self) -> dict[str, bool]:
        return {"on": self.on}

    @classmethod
    def from_avro(cls, d: dict[str, bool]) -> "_Flag":
        return cls(d["on"])


def test_a_codec_writes_what_the_writer_does_not_compile_with_fastavro():
    schema = {
        "type": "record",
        "name": "Flag",
        "namespace": "test",
        "fields": [{"name": "on", "type": "boolean"}],
    }
    codec = AvroSingleObjectCodec({_Flag: schema})  # type: ignore[dict-item]
    assert _Flag not in codec._compiled
    assert codec.decode(codec.encode(_Flag(True)), _Flag) == _Flag(True)  # type: ignore[type-var]


@pytest.mark.parametrize("name", ["x, __import__('os').system('true')", "class", "1st", "a.b"])
def test_a_field_name_that_is_not_an_identifier_never_becomes_code(name):
    schema = {"type": "record", "name": "Evil", "fields": [{"name": name, "type": "long"}]}
    with pytest.raises(Unsupported, match="not an identifier"):
        compile_writer(schema)
