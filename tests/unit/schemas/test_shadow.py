"""Decision.shadow: the candidate's scoring logged beside the served decision (evolution 2)."""

import dataclasses
import io
import json
import math

import fastavro
import pytest

from schemas.codec import (
    HEADER_SIZE,
    HISTORY_DIR,
    MARKER,
    AvroSingleObjectCodec,
    fingerprint_of_schema,
)
from schemas.enums import SpawnType
from schemas.errors import InvalidRecord
from schemas.records import Action, Decision, Experience, Shadow
from tests import samples

CODEC = AvroSingleObjectCodec.default()


def _written_with(old_schema: dict, value: dict) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(old_schema, named_schemas={}), value)
    return MARKER + fingerprint_of_schema(old_schema) + body.getvalue()


def test_a_decision_with_a_shadow_round_trips():
    decision = samples.decision_with_shadow()
    assert CODEC.decode(CODEC.encode(decision), Decision) == decision


def test_an_experience_of_a_shadowed_decision_round_trips():
    experience = dataclasses.replace(samples.experience(), decision=samples.decision_with_shadow())
    assert CODEC.decode(CODEC.encode(experience), Experience) == experience


@pytest.mark.parametrize("generation", [0, 1])
def test_a_decision_written_before_shadow_existed_is_read_with_none(generation):
    old_schema = json.loads((HISTORY_DIR / f"decision.{generation}.avsc").read_text())
    value = samples.decision(epoch="" if generation == 0 else "e-1").to_avro()
    del value["shadow"]
    data = _written_with(old_schema, value)
    assert data[2:HEADER_SIZE] != CODEC.fingerprint(Decision)
    decoded = AvroSingleObjectCodec.default().decode(data, Decision)
    assert decoded.shadow is None and decoded.decision_id == value["decision_id"]


@pytest.mark.parametrize("generation", [0, 1])
def test_an_experience_written_before_shadow_existed_is_read_with_none(generation):
    old_schema = json.loads((HISTORY_DIR / f"experience.{generation}.avsc").read_text())
    experience = samples.experience()
    value = experience.to_avro()
    del value["decision"]["shadow"]
    data = _written_with(old_schema, value)
    assert AvroSingleObjectCodec.default().decode(data, Experience) == experience


def test_a_reader_of_the_previous_schema_ignores_the_shadow():
    previous = json.loads((HISTORY_DIR / "decision.1.avsc").read_text())
    data = CODEC.encode(samples.decision_with_shadow())
    body = io.BytesIO(data[HEADER_SIZE:])
    new_writer = fastavro.parse_schema(
        json.loads((HISTORY_DIR.parent / "decision.avsc").read_text()), named_schemas={}
    )
    value = fastavro.schemaless_reader(
        body, new_writer, fastavro.parse_schema(previous, named_schemas={})
    )
    assert "shadow" not in value and value["model_version"] == 1


def _shadowed(**changes: object) -> Decision:
    return samples.decision(shadow=dataclasses.replace(samples.shadow(), **changes))


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"probabilities": (1 / 31,) * 31}, r"probabilities=.*must hold 32 values, holds 31"),
        ({"probabilities": (math.nan,) + (1 / 32,) * 31}, r"probabilities\[0\]=nan"),
        ({"probabilities": (1 / 16,) * 32}, r"probabilities='<sum 2.0>': must sum to 1"),
        ({"probabilities": (-0.5, 1.5) + (0.0,) * 30}, r"probabilities\[0\]=-0.5"),
        ({"model_version": -1}, r"shadow\.model_version=-1"),
        ({"model_version": 2**60}, r"shadow\.model_version"),
        ({"action": Action(8, SpawnType.GUARD)}, r"Action\.spawn_chunk=8"),
    ],
)
def test_a_shadow_outside_the_contract_is_refused(changes, pattern):
    decision = _shadowed(**changes)
    with pytest.raises(InvalidRecord, match=pattern):
        decision.validate()
    with pytest.raises(InvalidRecord, match=pattern):
        CODEC.encode(decision)


def test_a_shadow_that_is_not_a_shadow_is_refused():
    with pytest.raises(InvalidRecord, match="shadow"):
        CODEC.encode(samples.decision(shadow=(1, 2, 3)))


def test_float32_rounding_of_the_probabilities_passes_the_sum_check():
    values = tuple(float(x) for x in [0.9 + 0.1 / 32] + [0.1 / 32] * 31)
    decision = _shadowed(probabilities=values)
    decoded = CODEC.decode(CODEC.encode(decision), Decision)
    assert isinstance(decoded.shadow, Shadow)
    assert decoded.shadow.probabilities != values  # rounded to float32, still valid
    assert abs(sum(decoded.shadow.probabilities) - 1) < 1e-4
