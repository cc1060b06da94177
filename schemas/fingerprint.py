"""CRC-64-AVRO (Rabin) fingerprints of Avro schemas, as the Avro specification defines them.

The fingerprint of a schema is the CRC-64-AVRO of its Parsing Canonical Form, UTF-8 encoded.
Single-object encoding writes it as 8 bytes, little-endian. Standard library only.
"""

EMPTY = 0xC15D213AA4D7A795


def _table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """Return the CRC-64-AVRO fingerprint of `data` as an unsigned 64-bit integer."""
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint_bytes(canonical_form: str) -> bytes:
    """Return the 8-byte little-endian fingerprint of a schema's Parsing Canonical Form."""
    return crc64_avro(canonical_form.encode("utf-8")).to_bytes(8, "little")
