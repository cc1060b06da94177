"""A signing key pair for tests: the trainer's signer, inference's verifier, and key files."""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.signing import Signer, Verifier, key_id, keygen


@functools.cache
def private_key() -> Ed25519PrivateKey:
    """One key for the whole test session (generating one takes microseconds, but tests
    comparing records across helpers need the same one)."""
    return Ed25519PrivateKey.generate()


def signer() -> Signer:
    """Signs with the session's key."""
    return Signer(private_key())


def verifier() -> Verifier:
    """Trusts the session's key only."""
    public = private_key().public_key()
    return Verifier({key_id(public): public})


def key_files(directory: Path) -> dict[str, str]:
    """Write a fresh key pair under `directory`; return the services' settings for it."""
    private_path, public_path = keygen(str(directory))
    return {
        "QUEEN_SIGNING_KEY_FILE": str(private_path),
        "QUEEN_TRUSTED_KEYS": str(public_path.parent),
    }


@functools.cache
def promoter_private_key() -> Ed25519PrivateKey:
    """The promoter's key for the session: a key of its own, not the trainer's."""
    return Ed25519PrivateKey.generate()


def promoter_signer() -> Signer:
    """Signs promotions with the session's promoter key."""
    return Signer(promoter_private_key())


def promoter_verifier() -> Verifier:
    """Trusts the session's promoter key only."""
    public = promoter_private_key().public_key()
    return Verifier({key_id(public): public})


def promoter_key_files(directory: Path) -> dict[str, str]:
    """Write a fresh promoter key pair under `directory`; return the settings for it."""
    private_path, public_path = keygen(str(directory))
    return {
        "QUEEN_PROMOTER_SIGNING_KEY_FILE": str(private_path),
        "QUEEN_TRUSTED_PROMOTER_KEYS": str(public_path.parent),
    }
