"""Signed rule sets (opt-in): who may say what the rules of a version are.

The game (or a game team's tool) signs each RuleSet with an Ed25519 key; a reader with
`QUEEN_RULES_TRUSTED_KEYS` set learns only rule sets whose signature verifies under one of
those keys (runtime/rule_book.py), refusing the rest as `unsigned`, `unknown_key` or
`bad_signature`. Without it, unsigned rule sets are learnt (first valid one per version wins).
The keys are the same kind as the trainer's (runtime/signing.py: `python -m runtime.signing
keygen`), and should be other keys: the game's, not the trainer's.

The signed bytes, in order: the tag `queenloop/rule-set/1`, rules_version and published_at
(8 bytes big-endian each), publisher, then the 4 values of cost, upkeep, kill, harvest,
income and heal in that order (IEEE 754 doubles, 8 bytes big-endian each), then key_id
(strings: a 4-byte big-endian length, then UTF-8). The note is not signed.
"""

from __future__ import annotations

import dataclasses
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.signing import SignatureError, Verifier, key_id, load_private_key, load_trusted_keys
from schemas.records import RuleSet
from schemas.rule_records import PER_TYPE

TAG = "queenloop/rule-set/1"


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def rules_payload(record: RuleSet) -> bytes:
    """The bytes signed for `record` (see the module's doc)."""
    parts = [
        _text(TAG),
        struct.pack(">qq", record.rules_version, record.published_at),
        _text(record.publisher),
    ]
    for name in PER_TYPE:
        parts.append(struct.pack(">4d", *getattr(record, name)))
    parts.append(_text(record.key_id or ""))
    return b"".join(parts)


def sign_rules(private_key: Ed25519PrivateKey, record: RuleSet) -> RuleSet:
    """Return `record` with key_id and signature set."""
    unsigned = dataclasses.replace(record, key_id=key_id(private_key.public_key()), signature=None)
    return dataclasses.replace(unsigned, signature=private_key.sign(rules_payload(unsigned)))


def verify_rules(verifier: Verifier, record: RuleSet) -> None:
    """Return when `record` is signed by a trusted key; raise SignatureError otherwise."""
    version = record.rules_version
    if record.signature is None or record.key_id is None:
        raise SignatureError("unsigned", f"rule set {version} carries no signature")
    public_key = verifier.trusted.get(record.key_id)
    if public_key is None:
        msg = f"rule set {version} is signed by key {record.key_id!r}, not trusted"
        raise SignatureError("unknown_key", msg)
    try:
        public_key.verify(record.signature, rules_payload(record))
    except InvalidSignature:
        msg = f"rule set {version}: signature does not verify (key {record.key_id})"
        raise SignatureError("bad_signature", msg) from None


def rules_verifier(spec: str) -> Verifier | None:
    """The verifier of QUEEN_RULES_TRUSTED_KEYS=`spec`; None (unsigned accepted) when empty."""
    if not spec:
        return None
    return Verifier(load_trusted_keys(spec, "QUEEN_RULES_TRUSTED_KEYS"))


def rules_signer(path: str) -> Ed25519PrivateKey | None:
    """The key of QUEEN_RULES_SIGNING_KEY_FILE=`path`; None (rule sets unsigned) when empty."""
    return load_private_key(path, "QUEEN_RULES_SIGNING_KEY_FILE") if path else None
