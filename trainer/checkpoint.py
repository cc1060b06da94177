"""Checkpoints: model weights, optimizer state, step and version, on local disk. No pickle.

A checkpoint is a directory `ckpt-<version>` holding model.safetensors, optimizer.safetensors
(every tensor of the optimizer state) and meta.json (version, step, the optimizer's non-tensor
state, the model's sha256, and how far the experiences topic had been read: its topic id and
the next offset per partition, so a resumed trainer neither skips nor re-takes an experience).
It is written to a temporary directory and renamed, so a crash never leaves half a checkpoint;
the newest `keep` are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from queen.model import QueenNN
from queen.weights import load_weights, sha256_hex, to_safetensors


@dataclass(frozen=True)
class Checkpoint:
    """What a trainer resumes from."""

    version: int
    step: int
    model: QueenNN
    optimizer_state: dict[str, Any]
    input_topic_id: str = ""
    input_offsets: dict[int, int] = field(default_factory=dict)


def save_checkpoint(
    directory: str | Path,
    model: QueenNN,
    optimizer: torch.optim.Optimizer,
    version: int,
    step: int,
    keep: int = 3,
    input_topic_id: str = "",
    input_offsets: dict[int, int] | None = None,
) -> Path:
    """Write a checkpoint of `version`; return its directory."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"ckpt-{version:012d}"
    tmp = root / f".tmp-{version:012d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = to_safetensors(model)
    (tmp / "model.safetensors").write_bytes(weights)
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    meta = {
        "version": version,
        "step": step,
        "sha256": sha256_hex(weights),
        "param_groups": state["param_groups"],
        "scalars": scalars,
        "created_at": time.time(),
        "input_topic_id": input_topic_id,
        "input_offsets": {str(p): o for p, o in (input_offsets or {}).items()},
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(root.glob("ckpt-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_latest(directory: str | Path) -> Checkpoint | None:
    """Return the newest readable checkpoint in `directory`, or None."""
    for path in sorted(Path(directory).glob("ckpt-*"), reverse=True):
        try:
            meta = json.loads((path / "meta.json").read_text())
            model = load_weights((path / "model.safetensors").read_bytes(), meta["sha256"])
            tensors = load_file(str(path / "optimizer.safetensors"))
        except (OSError, ValueError, KeyError):
            continue
        state: dict[int, dict[str, Any]] = {}
        for name, value in {**tensors, **meta["scalars"]}.items():
            index, key = name.split(".", 1)
            state.setdefault(int(index), {})[key] = value
        optimizer_state = {"state": state, "param_groups": meta["param_groups"]}
        offsets = {int(p): int(o) for p, o in meta.get("input_offsets", {}).items()}
        return Checkpoint(
            meta["version"],
            meta["step"],
            model,
            optimizer_state,
            meta.get("input_topic_id", ""),
            offsets,
        )
    return None


HIGH_WATER = "published-version"


def reserve_version(directory: str | Path, version: int) -> None:
    """Record that `version` is about to be published (before it is), atomically.

    A resumed trainer numbers on from the highest version ever reserved here, so a number is
    never used twice, even for a version whose record never reached the broker, or after the
    broker lost the model topic.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{HIGH_WATER}.{os.getpid()}"
    tmp.write_text(str(version))
    tmp.replace(root / HIGH_WATER)


def reserved_version(directory: str | Path) -> int:
    """The highest version reserved in `directory` (0 when none)."""
    try:
        return int((Path(directory) / HIGH_WATER).read_text())
    except (OSError, ValueError):
        return 0
