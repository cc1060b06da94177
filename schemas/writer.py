"""An Avro binary writer compiled from a record schema, for the records the services write most.

fastavro writes a record from a dict, walking the schema field by field for every record; a
Decision with its 28 features took ~10 µs that way (dict included). `compile_writer` turns a
schema into one generated Python function that reads the typed record's attributes (the record
classes mirror their schemas, field for field) and joins the Avro binary encoding: zig-zag
varints, little-endian IEEE floats through `struct`, length-prefixed strings, one dict lookup
per enum. ~5 µs for the same Decision.

It knows the types the contract uses: records, string, bytes, int, long, float, double, enum,
arrays of primitives and of records, maps of primitives, unions with null, and references by
name to a record or enum defined earlier in the schema (Shadow.action is an Action). Anything
else raises Unsupported, and the codec keeps fastavro for that type; so does a field name that
is not a Python identifier, so no schema text ever becomes code. Tests hold every record
type's bytes equal to fastavro's.
Values are checked (records validate themselves first): an int or long out of its range, a
wrong type, or a float beyond float32 raises, as fastavro's strict writer does.
Standard library only.
"""

from __future__ import annotations

import functools
import keyword
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_DOUBLE = struct.Struct("<d").pack
_FLOAT = struct.Struct("<f").pack


class Unsupported(ValueError):
    """The schema uses a type this writer does not compile."""


_ONE_BYTE = [bytes((z,)) for z in range(0x80)]


@functools.lru_cache(maxsize=4096)
def _wide(z: int) -> bytes:
    """Varint of a zig-zagged value of two bytes or more, remembered.

    Timestamps are most of them, and repeat: every decision of a batch has the batch's
    decided_at, every observation of a tick the tick's event_time and emitted_at.
    """
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _varint(n: int) -> bytes:
    """Zig-zag varint of a value already known to fit 64 bits."""
    z = (n << 1) ^ (n >> 63)
    return _ONE_BYTE[z] if z < 0x80 else _wide(z)


def _long(n: int) -> bytes:
    if type(n) is not int or not LONG_MIN <= n <= LONG_MAX:  # bool is not a long
        raise OverflowError(f"{n!r} is not an Avro long")
    return _varint(n)


def _int(n: int) -> bytes:
    if type(n) is not int or not INT_MIN <= n <= INT_MAX:
        raise OverflowError(f"{n!r} is not an Avro int")
    return _varint(n)


def _string(s: str) -> bytes:
    data = s.encode()
    return _varint(len(data)) + data


def _bytes(b: bytes) -> bytes:
    if not isinstance(b, bytes):
        raise TypeError(f"{type(b).__name__} is not bytes")
    return _varint(len(b)) + b


def _block(n: int, body: bytes) -> bytes:
    """An array or map: one block of n items, then the empty block that ends it."""
    return _varint(n) + body + b"\x00" if n else b"\x00"


def _doubles(values: Sequence[float]) -> bytes:
    return _block(len(values), struct.pack(f"<{len(values)}d", *values))


def _floats(values: Sequence[float]) -> bytes:
    return _block(len(values), struct.pack(f"<{len(values)}f", *values))


HELPERS: dict[str, Callable[..., bytes]] = {
    "_long": _long,
    "_int": _int,
    "_string": _string,
    "_bytes": _bytes,
    "_double": _DOUBLE,
    "_float": _FLOAT,
    "_block": _block,
}
PRIMITIVES = {  # type -> function of one value
    "long": "_long",
    "int": "_int",
    "string": "_string",
    "bytes": "_bytes",
    "double": "_double",
    "float": "_float",
}


class _Compiler:
    """Builds the expression that encodes one value, collecting the constants it refers to."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = dict(HELPERS, _doubles=_doubles, _floats=_floats)
        self.items = 0  # generator variables made so far (one per array of records)
        self.named: dict[str, Any] = {}  # records and enums defined so far, by name and full name
        self.open: set[str] = set()  # records being compiled: a reference to one is recursive

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def expression(self, schema: Any, value: str) -> str:
        """Python expression (of `value`, itself an expression) that yields the bytes."""
        if isinstance(schema, str) and schema in PRIMITIVES:
            return f"{PRIMITIVES[schema]}({value})"
        if isinstance(schema, str) and schema in self.named:
            if schema in self.open:
                raise Unsupported(f"recursive type {schema!r}")
            return self.expression(self.named[schema], value)
        if isinstance(schema, list):
            return self._union(schema, value)
        kind = schema.get("type") if isinstance(schema, Mapping) else None
        if kind in PRIMITIVES and len(schema) == 1:
            return self.expression(kind, value)
        if kind in ("record", "enum"):
            names = self._define(schema)
        if kind == "record":
            self.open.update(names)
            parts = [
                self.expression(f["type"], f"{value}.{_identifier(f['name'])}")
                for f in schema["fields"]
            ]
            self.open.difference_update(names)
            return 'b"".join((' + ", ".join(parts) + ",))"
        if kind == "enum":
            table = {s: _varint(i) for i, s in enumerate(schema["symbols"])}
            return f"{self.constant(table)}[{value}]"
        if kind == "array" and isinstance(schema["items"], Mapping):
            self.items += 1
            item = f"_item{self.items}"
            each = self.expression(schema["items"], item)
            return f'_block(len({value}), b"".join({each} for {item} in {value}))'
        if kind == "array" and schema["items"] in ("double", "float"):
            return f"_{schema['items']}s({value})"
        if kind == "array" and schema["items"] in PRIMITIVES:
            item = PRIMITIVES[schema["items"]]
            return f'_block(len({value}), b"".join(map({item}, {value})))'
        if kind == "map" and schema["values"] in PRIMITIVES:
            item = self.expression(schema["values"], "v")
            pairs = f'b"".join(_string(k) + {item} for k, v in {value}.items())'
            return f"_block(len({value}), {pairs})"
        raise Unsupported(f"cannot compile {schema!r}")

    def _define(self, schema: Mapping[str, Any]) -> tuple[str, ...]:
        """Remember a named type (by its name and its full name) for later references."""
        name = schema["name"]
        if not isinstance(name, str):
            raise Unsupported(f"type name {name!r} is not a string")
        namespace = schema.get("namespace")
        names = (name, f"{namespace}.{name}") if namespace and "." not in name else (name,)
        for n in names:
            self.named.setdefault(n, schema)
        return names

    def _union(self, branches: list[Any], value: str) -> str:
        if len(branches) != 2 or "null" not in branches:
            raise Unsupported(f"only unions with null compile, not {branches!r}")
        null = branches.index("null")
        other = self.expression(branches[1 - null], value)
        return f"({_varint(null)!r} if {value} is None else {_varint(1 - null)!r} + {other})"


def _identifier(name: Any) -> str:
    """Return a field name fit to be spliced into the generated code, or raise Unsupported.

    The generated function reads `record.<name>`: a schema whose field name is not a plain
    identifier (e.g. "x, __import__('os')") must never become code.
    """
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise Unsupported(f"field name {name!r} is not an identifier")
    return name


def compile_writer(schema: Mapping[str, Any]) -> Callable[[Any], bytes]:
    """Return write(record) -> Avro binary body, for a record schema (JSON, as shipped).

    A named type may be referenced by its name (or full name) once it is defined; a recursive
    one is Unsupported.
    """
    compiler = _Compiler()
    body = compiler.expression(schema, "record")
    source = f"def write(record):\n    return {body}\n"
    namespace = dict(compiler.constants)
    exec(compile(source, f"<avro writer {schema.get('name')}>", "exec"), namespace)  # noqa: S102
    write: Callable[[Any], bytes] = namespace["write"]
    write.source = source  # type: ignore[attr-defined]  # for a reader debugging it
    return write
