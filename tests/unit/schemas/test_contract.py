"""The .avsc files themselves: documented, self-contained, and readable by Apache Avro."""

import io
import json
from pathlib import Path

import avro.io
import avro.schema
import pytest
from hypothesis import given, settings

from schemas.codec import HEADER_SIZE, SCHEMA_DIR, SCHEMA_FILES, AvroSingleObjectCodec
from schemas.records import RECORD_TYPES
from schemas.reference import START, events_section
from tests.unit.schemas.strategies import BY_TYPE

CODEC = AvroSingleObjectCodec.default()
FILES = sorted(SCHEMA_DIR.glob("*.avsc"))


def test_one_schema_file_per_record_type():
    assert sorted(SCHEMA_FILES.values()) == [f.name for f in FILES]


def _named_nodes(node):
    if isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed"):
            yield node
        for value in node.values():
            yield from _named_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _named_nodes(value)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_field_and_type_is_documented_in_namespace_v1(path):
    schema = json.loads(path.read_text())
    assert schema["namespace"] == "queenloop.v1"
    for node in _named_nodes(schema):
        assert node.get("doc"), f"{node['name']} has no doc"
        for field in node.get("fields", []):
            assert field.get("doc"), f"{node['name']}.{field['name']} has no doc"


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_fingerprint_equals_apache_avro_reference(record_type):
    text = (SCHEMA_DIR / SCHEMA_FILES[record_type]).read_text()
    reference = bytes(avro.schema.parse(text).fingerprint("CRC-64-AVRO"))
    assert CODEC.fingerprint(record_type) == reference


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_apache_avro_reads_what_we_write(record_type):
    schema = avro.schema.parse((SCHEMA_DIR / SCHEMA_FILES[record_type]).read_text())

    @settings(max_examples=15, deadline=None)
    @given(BY_TYPE[record_type])
    def check(record):
        data = CODEC.encode(record)
        body = io.BytesIO(data[HEADER_SIZE:])
        value = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(body))
        assert body.tell() == len(data) - HEADER_SIZE
        assert record_type.from_avro(value) == record

    check()


def test_experience_inlines_decision_and_status_unchanged():
    load = lambda name: json.loads((SCHEMA_DIR / name).read_text())  # noqa: E731
    experience = load("experience.avsc")
    decision, reward = load("decision.avsc"), load("reward.avsc")
    fields = {f["name"]: f for f in experience["fields"]}
    decision.pop("namespace")
    assert fields["decision"]["type"] == decision
    status = next(f for f in reward["fields"] if f["name"] == "decision_status")
    assert fields["decision_status"]["type"] == status["type"]


def test_docs_events_names_the_current_fingerprint_of_every_schema():
    text = (Path(__file__).parents[3] / "docs" / "events.md").read_text()
    for record_type in RECORD_TYPES:
        heading = (
            f"### {record_type.__name__} (`{SCHEMA_FILES[record_type]}`, "
            f"fingerprint `{CODEC.fingerprint(record_type).hex()}`)"
        )
        assert heading in text, f"docs/events.md: update the heading of {record_type.__name__}"


def test_docs_events_reference_is_generated_from_the_schemas_and_limits():
    text = (Path(__file__).parents[3] / "docs" / "events.md").read_text()
    assert text[text.index(START) :] == events_section(), (
        "docs/events.md: regenerate from '## Limits' on with python -m schemas.reference"
    )
