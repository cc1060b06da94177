"""Model versions signed by the trainer and verified by every reader (Ed25519).

Anyone who can write `queen.model-versions` could otherwise hand inference any weights with a
correct sha256. So the trainer signs each ModelVersion with its private key, and inference
serves, and the trainer resumes from, only versions whose signature verifies under one of the
trusted public keys (several, for rotation). The signed bytes (`signing_payload`) are defined
field by field below, independent of the Avro schema, so a verifier in any language can rebuild
them; docs/security.md gives the layout.

    python -m runtime.signing keygen --out var/keys

writes `signing.pem` (the private key, mode 0600) and `trusted/<key_id>.pem` (its public key).
Keys are PEM files: PKCS#8 private keys and SubjectPublicKeyInfo public keys, as
`openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runtime.errors import SettingsError
from schemas.records import ModelVersion, Promotion

PAYLOAD_TAG = b"queenloop/model-version/1"
PROMOTION_TAG = b"queenloop/promotion/1"  # a version's signature never verifies as a promotion
NULL = 0xFFFFFFFF  # the length that stands for a null string
REASONS = ("unsigned", "unknown_key", "bad_signature")


class SignatureError(Exception):
    """A version's signature does not verify; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        """Keep the reason (a metric label) beside the message."""
        super().__init__(message)
        self.reason = reason


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _text(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">I", NULL)
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def _long(value: int | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + struct.pack(">q", value)


def signing_payload(version: ModelVersion) -> bytes:
    """The bytes the trainer signs: every field that decides what is served or resumed from.

    In order: the tag, model_name, version, parent_version, created_at, sha256 (which stands
    for the weights), architecture_fingerprint, feature_fingerprint, key_id, then from the
    training summary its step, input_topic_id and input offsets (count, then partition and
    offset of each). Strings are a 4-byte big-endian length and UTF-8 (length 0xFFFFFFFF for
    null); longs a presence byte (0 null, 1 present) and 8 bytes big-endian. The training
    statistics (loss, learning rate, gate agreement, reward times) are informational and not
    signed.
    """
    t = version.training
    parts = [
        _text(PAYLOAD_TAG.decode()),
        _text(version.model_name),
        _long(version.version),
        _long(version.parent_version),
        _long(version.created_at),
        _text(version.sha256),
        _text(version.architecture_fingerprint),
        _text(version.feature_fingerprint),
        _text(version.key_id),
        _long(None if t is None else t.step),
        _text(None if t is None else t.input_topic_id),
        struct.pack(">I", 0 if t is None else len(t.input_offsets)),
    ]
    for position in () if t is None else t.input_offsets:
        parts.append(struct.pack(">iq", position.partition, position.offset))
    return b"".join(parts)


def promotion_payload(promotion: Promotion) -> bytes:
    """The bytes the promoter signs: every field that decides what is served.

    In order: the promotion tag, model_name, model_version, sha256, kind, mode,
    previous_version, created_at, key_id (strings and longs encoded as in `signing_payload`).
    The evidence and the reason are informational and not signed.
    """
    return b"".join(
        (
            _text(PROMOTION_TAG.decode()),
            _text(promotion.model_name),
            _long(promotion.model_version),
            _text(promotion.sha256),
            _text(str(promotion.kind)),
            _text(str(promotion.mode)),
            _long(promotion.previous_version),
            _long(promotion.created_at),
            _text(promotion.key_id),
        )
    )


class Signer:
    """Signs versions with the trainer's private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        """Sign with `private_key`; its key id goes into every version."""
        self.private_key = private_key
        self.key_id = key_id(private_key.public_key())

    def sign(self, version: ModelVersion) -> ModelVersion:
        """Return `version` with key_id and signature set."""
        unsigned = dataclasses.replace(version, key_id=self.key_id, signature=None)
        signature = self.private_key.sign(signing_payload(unsigned))
        return dataclasses.replace(unsigned, signature=signature)

    def sign_promotion(self, promotion: Promotion) -> Promotion:
        """Return `promotion` with key_id and signature set."""
        unsigned = dataclasses.replace(promotion, key_id=self.key_id, signature=None)
        signature = self.private_key.sign(promotion_payload(unsigned))
        return dataclasses.replace(unsigned, signature=signature)


class Verifier:
    """Checks versions against the trusted public keys, by key id."""

    def __init__(self, trusted: Mapping[str, Ed25519PublicKey]) -> None:
        """Trust the keys of `trusted` (key id -> public key)."""
        self.trusted = dict(trusted)

    def verify(self, version: ModelVersion) -> None:
        """Return when the signature verifies; raise SignatureError otherwise."""
        what = f"version {version.version}"
        self._verify(what, version.key_id, version.signature, signing_payload(version))

    def verify_promotion(self, promotion: Promotion) -> None:
        """Return when the promotion's signature verifies; raise SignatureError otherwise."""
        what = f"promotion of version {promotion.model_version}"
        payload = promotion_payload(promotion)
        self._verify(what, promotion.key_id, promotion.signature, payload)

    def _verify(self, what: str, key: str | None, signature: bytes | None, payload: bytes) -> None:
        if signature is None or key is None:
            raise SignatureError("unsigned", f"{what} carries no signature")
        public_key = self.trusted.get(key)
        if public_key is None:
            raise SignatureError("unknown_key", f"{what} is signed by key {key!r}, not trusted")
        try:
            public_key.verify(signature, payload)
        except InvalidSignature:
            msg = f"{what}: signature does not verify (key {key})"
            raise SignatureError("bad_signature", msg) from None


def load_private_key(path: str, setting: str = "QUEEN_SIGNING_KEY_FILE") -> Ed25519PrivateKey:
    """Read an unencrypted PEM Ed25519 private key; a bad file raises SettingsError."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SettingsError(f"{setting}={path!r}: not a readable PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError(f"{setting}={path!r}: not an Ed25519 key")
    return key


def load_trusted_keys(
    spec: str, setting: str = "QUEEN_TRUSTED_KEYS"
) -> dict[str, Ed25519PublicKey]:
    """Read the public keys of `spec`: comma-separated PEM files or directories of them.

    A directory contributes every `*.pem` file in it (a mounted Secret or ConfigMap).
    """
    files: list[Path] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        path = Path(part)
        if path.is_dir():
            files += sorted(path.glob("*.pem"))
        elif path.is_file():
            files.append(path)
        else:
            raise SettingsError(f"{setting}={spec!r}: {part!r} is neither a file nor a directory")
    keys: dict[str, Ed25519PublicKey] = {}
    for file in files:
        try:
            key = serialization.load_pem_public_key(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"{setting}={spec!r}: {file} is not a PEM public key ({exc})"
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise SettingsError(f"{setting}={spec!r}: {file} is not an Ed25519 key")
        keys[key_id(key)] = key
    if not keys:
        msg = f"{setting}={spec!r}: no trusted public key found; nothing could ever be served"
        raise SettingsError(msg)
    return keys


def keygen(out: str) -> tuple[Path, Path]:
    """Write a new key pair under `out`: signing.pem (0600) and trusted/<key_id>.pem."""
    root = Path(out)
    (root / "trusted").mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    private_path = root / "signing.pem"
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = private.public_key()
    public_path = root / "trusted" / f"{key_id(public)}.pem"
    public_path.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def ensure_dev_keys(out: str) -> tuple[Path, Path]:
    """Return the key pair under `out`, creating it on first use (make run's development keys)."""
    root = Path(out)
    private_path = root / "signing.pem"
    if private_path.exists():
        public = load_private_key(str(private_path)).public_key()
        public_path = root / "trusted" / f"{key_id(public)}.pem"
        if public_path.exists():
            return private_path, public_path
    return keygen(out)


def main(argv: Sequence[str] | None = None) -> int:
    """`keygen --out DIR`: write a new signing key pair."""
    parser = argparse.ArgumentParser(description="Model-version signing keys (Ed25519).")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("keygen", help="write DIR/signing.pem and DIR/trusted/<key_id>.pem")
    gen.add_argument("--out", required=True, help="directory to write the key pair into")
    args = parser.parse_args(argv)
    private_path, public_path = keygen(args.out)
    print(f"private key {private_path} (trainer only: QUEEN_SIGNING_KEY_FILE)")
    print(f"public key  {public_path} (trusted by readers: QUEEN_TRUSTED_KEYS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
