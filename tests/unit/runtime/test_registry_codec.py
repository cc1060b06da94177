"""The Confluent wire-format codec: byte-compatible with confluent-kafka's own serializers."""

import dataclasses
import io
import json
import math
import uuid

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from runtime.registry_codec import ConfluentWireCodec
from schemas.codec import HISTORY_DIR, load_schema
from schemas.enums import ErrorKind
from schemas.errors import SchemaError
from schemas.records import Observation, Reward
from tests import samples

CONTEXT = SerializationContext("any-topic", MessageField.VALUE)


def registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4().hex}"})


@pytest.mark.parametrize("make", samples.ALL, ids=lambda f: f.__name__)
def test_every_record_type_round_trips_in_the_confluent_framing(make):
    client = registry()
    codec = ConfluentWireCodec(client)
    record = make()
    data = codec.encode(record)
    assert data[0] == 0
    subject = type(record).AVRO_NAME
    assert int.from_bytes(data[1:5], "big") == client.get_latest_version(subject).schema_id
    assert codec.decode(data, type(record)) == record


def test_confluents_own_serializer_and_deserializer_agree_with_ours():
    client = registry()
    codec = ConfluentWireCodec(client)
    record = samples.observation(3, 7)
    schema = json.dumps(load_schema(Observation))
    theirs = AvroSerializer(
        client,
        schema,
        lambda r, _ctx: r.to_avro(),
        {"subject.name.strategy": record_subject_name_strategy},
    )(record, CONTEXT)
    assert codec.encode(record) == theirs, "the same bytes as the library writes"
    assert codec.decode(theirs, Observation) == record
    read = AvroDeserializer(client)(codec.encode(record), CONTEXT)
    assert read == {**record.to_avro(), "new_threat": []}


def test_a_record_written_with_an_older_schema_is_read_into_the_current_one():
    client = registry()
    old = json.loads((HISTORY_DIR / "reward.0.avsc").read_text())
    value = {
        k: v
        for k, v in samples.reward(1, 2).to_avro().items()
        if k in {f["name"] for f in old["fields"]}
    }
    data = AvroSerializer(
        client, json.dumps(old), conf={"subject.name.strategy": record_subject_name_strategy}
    )(value, CONTEXT)
    decoded = ConfluentWireCodec(client).decode(data, Reward)
    assert decoded.epoch == "" and decoded.observation_id is None and decoded.seq == 2


def kind_of(codec, data, record_type=Observation):
    with pytest.raises(SchemaError) as err:
        codec.decode(data, record_type)
    return err.value.kind


def test_bad_bytes_fail_with_the_kinds_dead_letters_record():
    codec = ConfluentWireCodec(registry())
    good = codec.encode(samples.observation())
    assert kind_of(codec, b"\xc3\x01" + good[1:]) is ErrorKind.NOT_SINGLE_OBJECT
    assert kind_of(codec, b"\x00\x00\x00\x7f\xff" + good[5:]) is ErrorKind.UNKNOWN_FINGERPRINT
    assert kind_of(codec, good[:12]) is ErrorKind.CORRUPT_BODY
    body = io.BytesIO()
    nan = samples.observation().to_avro() | {"resources": math.nan}
    fastavro.schemaless_writer(body, fastavro.parse_schema(load_schema(Observation)), nan)
    assert kind_of(codec, good[:5] + body.getvalue()) is ErrorKind.INVALID_RECORD
    huge = good[:5] + bytes(100_000)
    assert kind_of(codec, huge) is ErrorKind.INVALID_RECORD  # refused before decoding
    with pytest.raises(SchemaError):
        codec.encode(dataclasses.replace(samples.observation(), base_health=2.0))


def test_the_service_picks_the_wire_format_by_setting():
    from runtime.service import make_codec
    from runtime.settings import CodecSettings
    from schemas.codec import AvroSingleObjectCodec
    from schemas.limits import DEFAULT_LIMITS

    assert isinstance(make_codec(CodecSettings(), DEFAULT_LIMITS), AvroSingleObjectCodec)
    url = f"mock://{uuid.uuid4().hex}"
    settings = CodecSettings.from_env(
        {"QUEEN_SCHEMA_REGISTRY_URL": url, "QUEEN_SCHEMA_REGISTRY_BASIC_AUTH": "u:hunter2"}
    )
    assert "hunter2" not in repr(settings)
    assert isinstance(make_codec(settings, DEFAULT_LIMITS), ConfluentWireCodec)
