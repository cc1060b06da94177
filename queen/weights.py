"""Model weights as safetensors bytes with a sha256, and their checked loading. Never pickle.

The safetensors metadata carries the architecture and feature fingerprints; `load_weights`
refuses a payload whose sha256, fingerprints, tensor names or shapes do not match, or whose
weights are not finite. torch and safetensors only.
"""

from __future__ import annotations

import hashlib
import json

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from queen.errors import WeightsError
from queen.features import FEATURE_FINGERPRINT
from queen.model import ARCHITECTURE_FINGERPRINT, QueenNN

META_KEY = "queenloop"


def sha256_hex(data: bytes) -> str:
    """Return the hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def to_safetensors(model: QueenNN, metadata: dict[str, str] | None = None) -> bytes:
    """Return the model's weights as safetensors bytes, with both fingerprints in metadata."""
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {
        "architecture_fingerprint": ARCHITECTURE_FINGERPRINT,
        "feature_fingerprint": FEATURE_FINGERPRINT,
        **(metadata or {}),
    }
    # One key holding sorted JSON: safetensors writes metadata keys in no fixed order, and the
    # same weights must always give the same bytes (and so the same sha256).
    return bytes(save_safetensors(tensors, metadata={META_KEY: json.dumps(meta, sort_keys=True)}))


MAX_HEADER_BYTES = 1024 * 1024  # a real header is a few hundred bytes


def read_metadata(data: bytes) -> dict[str, str]:
    """Return the queenloop metadata of a safetensors payload (empty when it has none).

    Whatever the bytes hold (a header of the wrong shape, metadata that is a list, text that
    is not JSON), the only exception is WeightsError.
    """
    size = int.from_bytes(data[:8], "little")
    if len(data) < 8 or not 0 < size <= min(MAX_HEADER_BYTES, len(data) - 8):
        raise WeightsError(f"not a readable safetensors payload: header size {size}")
    try:
        header = json.loads(data[8 : 8 + size])
        metadata = header.get("__metadata__", {}) if isinstance(header, dict) else None
        text = metadata.get(META_KEY, "{}") if isinstance(metadata, dict) else None
        meta = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError) as exc:
        raise WeightsError(f"not a readable safetensors payload: {exc}") from exc
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise WeightsError("not a readable safetensors payload: metadata is not a string map")
    return meta


def load_weights(
    data: bytes,
    expected_sha256: str,
    architecture_fingerprint: str = ARCHITECTURE_FINGERPRINT,
    feature_fingerprint: str = FEATURE_FINGERPRINT,
) -> QueenNN:
    """Return a QueenNN with the weights in `data`, after every check passed.

    Raises:
        WeightsError: checksum mismatch, fingerprint mismatch, unreadable payload, wrong
            tensor names or shapes, or non-finite weights.
    """
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise WeightsError(f"sha256 mismatch: payload {actual}, expected {expected_sha256}")
    if architecture_fingerprint != ARCHITECTURE_FINGERPRINT:
        msg = f"architecture fingerprint {architecture_fingerprint} != {ARCHITECTURE_FINGERPRINT}"
        raise WeightsError(msg)
    if feature_fingerprint != FEATURE_FINGERPRINT:
        raise WeightsError(f"feature fingerprint {feature_fingerprint} != {FEATURE_FINGERPRINT}")
    embedded = read_metadata(data)
    for key, expected_value in (
        ("architecture_fingerprint", ARCHITECTURE_FINGERPRINT),
        ("feature_fingerprint", FEATURE_FINGERPRINT),
    ):
        if embedded.get(key) != expected_value:
            raise WeightsError(f"payload {key} {embedded.get(key)!r} != {expected_value}")
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, TypeError, RuntimeError, OverflowError) as exc:
        raise WeightsError(f"not a readable safetensors payload: {exc}") from exc
    model = QueenNN()
    expected = model.state_dict()
    if set(tensors) != set(expected):
        raise WeightsError(f"tensor names {sorted(tensors)} != {sorted(expected)}")
    for name, tensor in tensors.items():
        if tensor.dtype != expected[name].dtype:
            raise WeightsError(f"{name}: dtype {tensor.dtype} != {expected[name].dtype}")
        if tensor.shape != expected[name].shape:
            raise WeightsError(
                f"{name}: shape {tuple(tensor.shape)} != {tuple(expected[name].shape)}"
            )
        if not torch.isfinite(tensor).all():
            raise WeightsError(f"{name}: non-finite weights")
    model.load_state_dict(tensors)
    model.eval()
    return model
