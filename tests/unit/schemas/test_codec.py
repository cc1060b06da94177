import dataclasses
import io
import json
import math
from pathlib import Path

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import (
    HEADER_SIZE,
    HISTORY_DIR,
    MARKER,
    SCHEMA_FILES,
    AvroSingleObjectCodec,
    fingerprint_of_schema,
    load_schema,
)
from schemas.enums import DecisionStatus, ErrorKind
from schemas.errors import CorruptBody, InvalidRecord, NotSingleObjectEncoded, UnknownFingerprint
from schemas.fingerprint import crc64_avro
from schemas.records import (
    RECORD_TYPES,
    Decision,
    ModelVersion,
    Observation,
    Reward,
    TrainingSummary,
)
from tests import samples
from tests.unit.schemas.strategies import BY_TYPE, decisions, observations

FIXTURES = Path(__file__).parents[2] / "fixtures" / "schemas"
CODEC = AvroSingleObjectCodec.default()


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_every_record_type_round_trips(record_type):
    @settings(max_examples=60, deadline=None)
    @given(BY_TYPE[record_type])
    def round_trip(record):
        data = CODEC.encode(record)
        assert data[:2] == MARKER
        assert data[2:10] == CODEC.fingerprint(record_type)
        assert CODEC.decode(data, record_type) == record

    round_trip()


def test_header_is_marker_then_little_endian_crc64_of_canonical_form():
    schema = load_schema(Observation)
    canonical = fastavro.schema.to_parsing_canonical_form(
        fastavro.parse_schema(schema, named_schemas={})
    )
    expected = crc64_avro(canonical.encode()).to_bytes(8, "little")
    assert fingerprint_of_schema(schema) == expected
    assert expected.hex() == fastavro.schema.fingerprint(canonical, "CRC-64-AVRO")


def test_crc64_avro_of_empty_input_is_the_spec_seed():
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


def test_older_writer_schema_is_read_into_the_current_one():
    old_schema = json.loads((FIXTURES / "reward_v0.avsc").read_text())
    old_value = {
        "territory_id": "t-0003",
        "seq": 41,
        "event_time": 1_000,
        "emitted_at": 2_000,
        "rules_version": 1,
        "reward": 0.25,
        "components": {"resources": 0.5, "losses": -0.25},
    }
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(old_schema, named_schemas={}), old_value)
    data = MARKER + fingerprint_of_schema(old_schema) + body.getvalue()

    codec = AvroSingleObjectCodec.default()
    with pytest.raises(UnknownFingerprint):
        codec.decode(data, Reward)
    codec.register(old_schema)
    reward = codec.decode(data, Reward)

    assert reward.seq == 41 and reward.components == {"resources": 0.5, "losses": -0.25}
    assert reward.decision_id is None
    assert reward.decision_status is DecisionStatus.MISSING


def _written_with(old_schema: dict, value: dict) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(old_schema, named_schemas={}), value)
    return MARKER + fingerprint_of_schema(old_schema) + body.getvalue()


def test_observation_written_before_new_threat_existed_is_read_with_it_empty():
    old_schema = json.loads((HISTORY_DIR / "observation.0.avsc").read_text())
    value = _observation().to_avro()
    del value["new_threat"]
    data = _written_with(old_schema, value)
    assert data[2:HEADER_SIZE] != CODEC.fingerprint(Observation)
    assert AvroSingleObjectCodec.default().decode(data, Observation) == _observation()


def test_model_version_written_before_freshness_times_existed_is_read_with_none():
    old_schema = json.loads((HISTORY_DIR / "model_version.0.avsc").read_text())
    current = samples.loadable_version(
        3, training=TrainingSummary(7, 0.5, 32, 0.001, 0.9, first_use_reward_emitted_at=())
    )
    value = current.to_avro()
    del value["training"]["first_use_reward_emitted_at"]
    data = _written_with(old_schema, value)
    assert data[2:HEADER_SIZE] != CODEC.fingerprint(ModelVersion)
    decoded = AvroSingleObjectCodec.default().decode(data, ModelVersion)
    assert decoded == current and decoded.training.first_use_reward_emitted_at == ()


def test_every_history_schema_is_an_earlier_version_of_a_current_one():
    current = {load_schema(t)["name"] for t in SCHEMA_FILES}
    history = sorted(HISTORY_DIR.glob("*.avsc"))
    assert history
    for path in history:
        schema = json.loads(path.read_text())
        assert schema["name"] in current, path.name
        assert fingerprint_of_schema(schema) != CODEC.fingerprint(
            next(t for t in SCHEMA_FILES if t.AVRO_NAME.endswith("." + schema["name"]))
        ), f"{path.name} is the current schema, not an earlier one"


@given(observations)
@settings(max_examples=20, deadline=None)
def test_bytes_without_marker_are_not_single_object(observation):
    data = CODEC.encode(observation)
    with pytest.raises(NotSingleObjectEncoded) as err:
        CODEC.decode(b"\x00\x01" + data[2:], Observation)
    assert err.value.kind is ErrorKind.NOT_SINGLE_OBJECT


@pytest.mark.parametrize("data", [b"", b"\xc3", b"\xc3\x01\x00\x01", b'{"seq": 1}'])
def test_short_or_foreign_bytes_are_not_single_object(data):
    with pytest.raises(NotSingleObjectEncoded):
        CODEC.decode(data, Observation)


def test_unknown_fingerprint_names_it():
    data = MARKER + bytes.fromhex("0102030405060708") + b"\x00"
    with pytest.raises(UnknownFingerprint, match="0102030405060708") as err:
        CODEC.decode(data, Observation)
    assert err.value.kind is ErrorKind.UNKNOWN_FINGERPRINT


@given(decisions, st.data())
@settings(max_examples=30, deadline=None)
def test_truncated_body_is_corrupt(decision, data):
    encoded = CODEC.encode(decision)
    cut = data.draw(st.integers(min_value=10, max_value=len(encoded) - 1))
    with pytest.raises(CorruptBody) as err:
        CODEC.decode(encoded[:cut], Decision)
    assert err.value.kind is ErrorKind.CORRUPT_BODY


def test_trailing_bytes_are_corrupt():
    data = CODEC.encode(_observation()) + b"\x00"
    with pytest.raises(CorruptBody, match="trailing"):
        CODEC.decode(data, Observation)


def test_garbage_body_is_corrupt():
    data = MARKER + CODEC.fingerprint(Observation) + b"\xff" * 40
    with pytest.raises(CorruptBody):
        CODEC.decode(data, Observation)


def test_nan_in_a_decoded_record_is_invalid_and_named():
    value = _observation().to_avro() | {"resources": math.nan}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(load_schema(Observation)), value)
    data = MARKER + CODEC.fingerprint(Observation) + body.getvalue()
    with pytest.raises(InvalidRecord, match=r"Observation\.resources=nan") as err:
        CODEC.decode(data, Observation)
    assert err.value.kind is ErrorKind.INVALID_RECORD


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"chunk_threat": (0.1,) * 7}, "chunk_threat"),
        ({"chunk_threat": (1.5,) + (0.1,) * 7}, r"chunk_threat\[0\]"),
        ({"unit_counts": (1, 2, -1, 0)}, r"unit_counts\[2\]"),
        ({"base_health": math.inf}, "base_health"),
        ({"seq": 2**63}, r"Observation\.seq=9223372036854775808: must be in \[0, 1000000000000\]"),
        ({"rules_version": 2**31}, "Observation does not fit its schema"),
        ({"units_lost": "three"}, r"Observation\.units_lost='three': must be a number"),
        ({"chunk_units": (1, 2, "x", 0, 0, 0, 0, 0)}, r"chunk_units\[2\]='x': must be a number"),
        ({"unit_counts": (1, 2, 3, -4)}, r"unit_counts\[3\]=-4: must be in \[0.0, 1000000\]"),
    ],
)
def test_out_of_schema_values_are_refused_when_encoding(change, pattern):
    with pytest.raises(InvalidRecord, match=pattern):
        CODEC.encode(dataclasses.replace(_observation(), **change))


def test_a_non_finite_feature_is_named_by_its_index():
    features = tuple(0.5 if i != 17 else math.inf for i in range(28))
    with pytest.raises(
        InvalidRecord, match=r"Decision\.features\[17\]=inf: must be a finite number"
    ):
        CODEC.encode(samples.decision(features=features))


def test_a_record_is_not_read_as_another_type():
    data = CODEC.encode(_observation())
    with pytest.raises(InvalidRecord, match="cannot be read as queenloop.v1.Reward"):
        CODEC.decode(data, Reward)


def _observation() -> Observation:
    return samples.observation(1, 3, observation_id="o-1", emitted_at=2_000)


SAMPLE_OF = {
    "Observation": samples.observation,
    "Decision": samples.decision,
    "Reward": samples.reward,
    "Experience": samples.experience,
    "ModelVersion": samples.model_version,
    "DeadLetter": samples.dead_letter,
}


@pytest.mark.parametrize("path", sorted(HISTORY_DIR.glob("*.avsc")), ids=lambda p: p.name)
def test_a_record_written_with_any_earlier_schema_is_read_with_the_new_fields_at_default(path):
    old_schema = json.loads(path.read_text())
    record = SAMPLE_OF[old_schema["name"]]()  # its newer fields hold their defaults
    data = _written_with(old_schema, record.to_avro())  # fastavro leaves out unknown fields
    assert data[2:HEADER_SIZE] == fingerprint_of_schema(old_schema)
    assert AvroSingleObjectCodec.default().decode(data, type(record)) == record
