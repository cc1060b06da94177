"""Signed versions: what the signature covers, and what a verifier refuses."""

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.errors import SettingsError
from runtime.signing import (
    SignatureError,
    Signer,
    Verifier,
    ensure_dev_keys,
    key_id,
    load_private_key,
    load_trusted_keys,
    signing_payload,
)
from schemas.records import InputOffset
from tests import keys, samples


def signed():
    v = samples.loadable_version(4)
    t = dataclasses.replace(samples.model_version(4).training, input_offsets=(InputOffset(0, 9),))
    return keys.signer().sign(dataclasses.replace(v, training=t))


def test_a_signed_version_verifies_and_every_signed_field_is_covered():
    version, verifier = signed(), keys.verifier()
    verifier.verify(version)
    changes = {
        "model_name": "other",
        "version": 5,
        "parent_version": None,
        "created_at": 1,
        "sha256": "0" * 64,
        "architecture_fingerprint": "x",
        "feature_fingerprint": "x",
        "training": dataclasses.replace(version.training, input_offsets=(InputOffset(0, 10),)),
    }
    for name, value in changes.items():
        with pytest.raises(SignatureError) as err:
            verifier.verify(dataclasses.replace(version, **{name: value}))
        assert err.value.reason == "bad_signature", name


def test_unsigned_and_unknown_keys_are_refused_by_reason():
    verifier = keys.verifier()
    with pytest.raises(SignatureError) as err:
        verifier.verify(samples.loadable_version(1))
    assert err.value.reason == "unsigned"
    stranger = Signer(Ed25519PrivateKey.generate())
    with pytest.raises(SignatureError) as err:
        verifier.verify(stranger.sign(samples.loadable_version(1)))
    assert err.value.reason == "unknown_key"
    looks_like_ours = dataclasses.replace(
        stranger.sign(samples.loadable_version(1)), key_id=keys.signer().key_id
    )
    with pytest.raises(SignatureError) as err:
        verifier.verify(looks_like_ours)
    assert err.value.reason == "bad_signature"


def test_the_payload_is_the_documented_bytes():
    payload = signing_payload(signed())
    assert payload.startswith(b"\x00\x00\x00\x19queenloop/model-version/1\x00\x00\x00\x05queen")
    assert payload.endswith(b"\x00\x00\x00\x01" + b"\x00\x00\x00\x00" + (9).to_bytes(8, "big"))


def test_dev_keys_are_made_once_and_loaded_back(tmp_path):
    private, public = ensure_dev_keys(str(tmp_path))
    assert (private.stat().st_mode & 0o777) == 0o600
    assert ensure_dev_keys(str(tmp_path)) == (private, public)
    trusted = load_trusted_keys(str(public.parent))
    assert list(trusted) == [key_id(load_private_key(str(private)).public_key())]
    Verifier(trusted).verify(
        Signer(load_private_key(str(private))).sign(samples.loadable_version(2))
    )


def test_bad_key_settings_name_the_setting(tmp_path):
    with pytest.raises(SettingsError, match="QUEEN_TRUSTED_KEYS='/nope'"):
        load_trusted_keys("/nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SettingsError, match="no trusted public key"):
        load_trusted_keys(str(tmp_path / "empty"))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SettingsError, match="QUEEN_SIGNING_KEY_FILE"):
        load_private_key(str(tmp_path / "junk.pem"))
