"""Hostile bytes for every input topic: random, mutated from valid encodings, and extreme records.

- `random_bytes`: anything at all.
- `mutations(valid)`: a valid encoding truncated, a byte flipped, bytes inserted, the tail
  repeated, the fingerprint zeroed, a length prefix made huge.
- `extremes(record, schema)`: the record with one to three fields set to the worst values of
  their Avro type (5,000-character strings and 5,000-digit territory ids, NaN and infinities,
  the ends of long and int, empty and 1,000-item arrays, oversized maps), written straight with
  fastavro so that nothing of ours checks them on the way out. The record's territory becomes a
  stranger's, unless that field is the one made extreme: a hostile writer forging records for
  real territories is an authorization problem (docs/security.md), not an input-validation one.
"""

from __future__ import annotations

import io
import math
from typing import Any

import fastavro
from hypothesis import strategies as st

from schemas.codec import MARKER, fingerprint_of_schema

random_bytes = st.binary(max_size=600) | st.binary(min_size=2, max_size=40).map(
    lambda b: MARKER + b  # looks like single-object encoding, then garbage
)

HUGE_STRINGS = ("", "x" * 5000, "t-" + "9" * 5000, "\x00\ud7ff", "🏰" * 200)
LONGS = (2**63 - 1, -(2**63), -1, 0, 10**15, 2**53 + 1)
INTS = (2**31 - 1, -(2**31), -1, 0)
DOUBLES = (math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 1e30, -1e30)


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Byte-level corruptions of one valid encoding."""
    n = len(valid)
    return st.one_of(
        st.integers(0, n - 1).map(lambda i: valid[:i]),
        st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(
            lambda t: valid[: t[0]] + bytes([valid[t[0]] ^ t[1]]) + valid[t[0] + 1 :]
        ),
        st.tuples(st.integers(10, n), st.binary(min_size=1, max_size=16)).map(
            lambda t: valid[: t[0]] + t[1] + valid[t[0] :]
        ),
        st.just(valid + valid[10:]),
        st.just(valid[:2] + bytes(8) + valid[10:]),
        st.integers(10, max(10, n - 1)).map(lambda i: valid[:i] + b"\xff\xff\xff\xff\x0f"),
    )


def _extreme_for(avro_type: Any) -> st.SearchStrategy[Any]:
    if isinstance(avro_type, list):  # a union: null, or the other branch at its worst
        other = next(t for t in avro_type if t != "null")
        return st.none() | _extreme_for(other)
    kind = avro_type["type"] if isinstance(avro_type, dict) else avro_type
    if kind == "string":
        return st.sampled_from(HUGE_STRINGS)
    if kind == "long":
        return st.sampled_from(LONGS)
    if kind == "int":
        return st.sampled_from(INTS)
    if kind in ("double", "float"):
        return st.sampled_from(DOUBLES)
    if kind == "bytes":
        return st.sampled_from((b"", b"\x00" * 100_000, b"{}"))
    if kind == "array":
        item = (
            _extreme_for(avro_type["items"]) if not isinstance(avro_type["items"], dict) else None
        )
        sizes = st.sampled_from((0, 1, 7, 9, 1000))
        if item is None:
            return st.just([])
        return st.tuples(sizes, item).map(lambda t: [t[1]] * t[0])
    if kind == "map":
        return st.sampled_from(
            ({"": 1.0}, {f"k{i}": 0.5 for i in range(1000)}, {"k": math.nan}, {"x" * 500: 1.0})
        )
    return st.nothing()  # records and enums: left as they are


def extremes(record: Any, schema: dict[str, Any], stranger: int) -> st.SearchStrategy[bytes]:
    """`record` with one to three of its top-level fields at their worst, encoded raw."""
    fields = [f for f in schema["fields"] if not _extreme_for(f["type"]).is_empty]
    parsed = fastavro.parse_schema(schema, named_schemas={})
    fingerprint = fingerprint_of_schema(schema)

    @st.composite
    def build(draw: Any) -> bytes:
        value = record.to_avro()
        if "territory_id" in value:
            value["territory_id"] = f"stranger-{stranger}"
        if "decision" in value:
            value["decision"]["territory_id"] = f"stranger-{stranger}"
        for f in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique_by=id)):
            value[f["name"]] = draw(_extreme_for(f["type"]))
        out = io.BytesIO()
        try:
            fastavro.schemaless_writer(out, parsed, value)
        except (ValueError, TypeError, OverflowError, AttributeError):
            return MARKER + fingerprint + b"\x00"  # fastavro itself refuses: a short body
        return MARKER + fingerprint + out.getvalue()

    return build()
