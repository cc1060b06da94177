"""Session files: what the loop's game topics carried, as Avro or JSON lines.

A session holds Observation, Decision and Reward records (what a game and inference said), in
the order they were read, each territory's records in their topic's order. Experience
records are read too (a file of the joiner's output), never recorded: the joiner derives them.
Two formats, chosen by the file name:

- `*.avro`: an Avro object container file. A recorded one has the union of the Observation,
  Decision and Reward schemas as its schema; a file whose schema is one record of the
  contract (any version in schemas/v1 or schemas/v1/history) is read too.
- `*.jsonl` (or anything else): one JSON object per line, `{"type": "Decision", "record":
  {...}}`, the record as its Avro schema shapes it (enums as symbols, `action` an object).

Every record is checked against the contract's limits (schemas/limits.py); a line or record
that fails is reported (`Bad`) and the reading goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import fastavro

from runtime.topics import DECISIONS, EXPERIENCES, OBSERVATIONS, REWARDS
from schemas.codec import load_schema
from schemas.errors import SchemaError
from schemas.limits import DEFAULT_LIMITS, Limits
from schemas.records import Decision, Experience, Observation, Reward

RecordType = type[Observation] | type[Decision] | type[Reward] | type[Experience]
SessionRecord = Observation | Decision | Reward | Experience
TYPES: dict[str, RecordType] = {
    "Observation": Observation,
    "Decision": Decision,
    "Reward": Reward,
    "Experience": Experience,
}
BY_AVRO_NAME: dict[str, RecordType] = {t.AVRO_NAME: t for t in TYPES.values()}
TOPIC_OF: dict[RecordType, str] = {
    Observation: OBSERVATIONS,
    Decision: DECISIONS,
    Reward: REWARDS,
    Experience: EXPERIENCES,
}
RECORDED = (Observation, Decision, Reward)


@dataclass(frozen=True)
class Bad:
    """A line or record that is not a valid record of the contract."""

    where: str  # "file:line" or "file:#record"
    reason: str


def is_avro(path: Path) -> bool:
    """True for an Avro object container file name."""
    return path.suffix == ".avro"


def session_schema() -> list[dict[str, Any]]:
    """The schema of a recorded Avro session: the union of the recorded records."""
    return [load_schema(t) for t in RECORDED]


def _build(record_type: RecordType, value: Any, limits: Limits) -> SessionRecord:
    record = record_type.from_avro(value)
    record.validate(limits)
    return record


def read(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[SessionRecord | Bad]:
    """Every record of a session file, in order; `Bad` for each that fails."""
    if is_avro(path):
        with open(path, "rb") as f:
            yield from _read_avro(f, str(path), limits)
    else:
        with open(path, encoding="utf-8") as f:
            yield from _read_lines(f, str(path), limits)


def _read_lines(f: TextIO, name: str, limits: Limits) -> Iterator[SessionRecord | Bad]:
    max_line = 4 * max(limits.max_bytes(t.AVRO_NAME) for t in TYPES.values())
    for number, line in enumerate(f, 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        if len(line) > max_line:
            yield Bad(where, f"line of {len(line)} characters: at most {max_line}")
            continue
        try:
            entry = json.loads(line)
            record_type = TYPES[entry["type"]]
            yield _build(record_type, entry["record"], limits)
        except (ValueError, KeyError, TypeError, AttributeError, SchemaError) as exc:
            yield Bad(where, f"{type(exc).__name__}: {exc}")


def _read_avro(f: BinaryIO, name: str, limits: Limits) -> Iterator[SessionRecord | Bad]:
    try:
        reader = fastavro.reader(f, return_record_name=True)
        writer_schema = reader.writer_schema
    except Exception as exc:  # fastavro raises many types on a file that is not OCF
        yield Bad(name, f"not an Avro object container file: {type(exc).__name__}: {exc}")
        return
    single = None
    if isinstance(writer_schema, dict):
        full = writer_schema.get("name", "")
        if "." not in full and writer_schema.get("namespace"):
            full = f"{writer_schema['namespace']}.{full}"
        single = BY_AVRO_NAME.get(full)
        if single is None:
            yield Bad(name, f"schema {full!r} is no record of the contract")
            return
    for index in range(1 << 62):
        where = f"{name}:#{index}"
        try:
            value: Any = next(reader)
        except StopIteration:
            return
        except Exception as exc:  # a truncated or corrupt block ends the file
            yield Bad(where, f"unreadable from here on: {type(exc).__name__}: {exc}")
            return
        try:
            if single is not None:
                yield _build(single, value, limits)
            else:
                record_name, body = value
                yield _build(BY_AVRO_NAME[record_name], body, limits)
        except (ValueError, KeyError, TypeError, AttributeError, SchemaError) as exc:
            yield Bad(where, f"{type(exc).__name__}: {exc}")


class SessionWriter:
    """Appends records to a session file (Avro or JSON lines by its name)."""

    def __init__(self, path: Path) -> None:
        """Create (truncate) `path`."""
        self.path = path
        self.count = 0
        if is_avro(path):
            self._binary: BinaryIO = open(path, "wb")  # noqa: SIM115  (closed in close())
            parsed = fastavro.parse_schema(session_schema())
            self._avro: Any = fastavro.write.Writer(self._binary, parsed, codec="deflate")
            self._text: TextIO | None = None
        else:
            self._text = open(path, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, record: Observation | Decision | Reward) -> None:
        """Append one record."""
        if self._text is not None:
            entry = {"type": type(record).__name__, "record": record.to_avro()}
            self._text.write(json.dumps(entry, separators=(",", ":")) + "\n")
        else:
            self._avro.write((record.AVRO_NAME, record.to_avro()))
        self.count += 1

    def flush(self) -> None:
        """Make what was written readable."""
        if self._text is not None:
            self._text.flush()
        else:
            self._avro.flush()
            self._binary.flush()

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        if self._text is not None:
            self._text.close()
        else:
            self._binary.close()
