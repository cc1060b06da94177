"""The reference half of docs/events.md, generated from the schemas and the limits.

    python -m schemas.reference > /tmp/events.md   # the text from "## Limits" on

Every table there is made here from `schemas/v1/*.avsc` and `schemas/limits.py`, and a unit
test holds the document equal to this output, so the reference cannot drift from the contract.
Standard library only (and the codec, for fingerprints).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from schemas.codec import SCHEMA_FILES, fingerprint_of_schema, load_schema
from schemas.limits import DEFAULT_LIMITS, Limits
from schemas.records import RECORD_TYPES

START = "## Limits"


def _type(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " \\| ".join(_type(n) for n in node)
    kind = node["type"]
    if kind == "array":
        return f"array<{_type(node['items'])}>"
    if kind == "map":
        return f"map<{_type(node['values'])}>"
    if kind == "enum":
        return f"enum {node['name']} {{{', '.join(node['symbols'])}}}"
    if kind == "record":
        return f"record {node['name']}"
    return _type(kind)


def _records(node: Any) -> list[dict[str, Any]]:
    """Every record schema inside `node`, outermost first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "record":
            found.append(node)
        for value in node.values():
            found += _records(value)
    elif isinstance(node, list):
        for value in node:
            found += _records(value)
    return found


def _table(record: dict[str, Any]) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in record["fields"]:
        default = f"`{_default(f['default'])}`" if "default" in f else ""
        lines.append(f"| `{f['name']}` | {_type(f['type'])} | {default} | {f['doc']} |")
    return lines


def _default(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value).replace("'", '"')


def events_section(limits: Limits = DEFAULT_LIMITS) -> str:
    """The text of docs/events.md from its "## Limits" heading to the end."""
    lines = [
        START,
        "",
        "Avro cannot bound a string or an array; the contract does (`schemas/limits.py`). A record",
        "beyond a bound is refused as INVALID_RECORD, and a record larger than its type may be is",
        "refused before it is decoded. Each bound is a setting, `QUEEN_LIMIT_<NAME>`:",
        "",
        "| setting | default | bounds |",
        "|---|---|---|",
    ]
    for f in dataclasses.fields(Limits):
        value = getattr(limits, f.name)
        shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
        lines.append(f"| `QUEEN_LIMIT_{f.name.upper()}` | {shown} | {f.metadata['doc']} |")
    lines += ["", "## The events", ""]
    inner_done: set[str] = set()
    for record_type in RECORD_TYPES:
        schema = load_schema(record_type)
        fingerprint = fingerprint_of_schema(schema).hex()
        file = SCHEMA_FILES[record_type]
        lines += [f"### {schema['name']} (`{file}`, fingerprint `{fingerprint}`)", ""]
        lines += [schema["doc"], "", *_table(schema), ""]
        for inner in _records(schema)[1:]:
            if inner["name"] in inner_done or inner["name"] in {"Decision"}:
                continue
            inner_done.add(inner["name"])
            lines += [f"{inner['name']}: {inner['doc']}", "", *_table(inner), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(events_section(), end="")
