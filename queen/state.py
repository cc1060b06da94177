"""Raw territory state as arrays (struct of arrays), and its validation.

A TerritoryBatch holds N territories' raw observation fields, one array per field. Services
build one from records (`from_rows`, duck-typed on the Observation field names); the world
builds one from its own state. `validate_raw` checks one raw observation and raises
ObservationError naming the field. numpy only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from queen.errors import ObservationError
from queen.rules import N_CHUNKS, N_TYPES

TERRITORY_ID = re.compile(r"^t-(\d{4,})$")
SCALAR_FIELDS = ("resources", "income", "upkeep", "base_health", "units_lost")
ARRAY_FIELDS = {"chunk_threat": N_CHUNKS, "chunk_units": N_CHUNKS, "unit_counts": N_TYPES}


def territory_index(territory_id: str) -> int:
    """Return the index of a territory id 't-0007' -> 7; ObservationError when malformed."""
    match = TERRITORY_ID.match(territory_id) if isinstance(territory_id, str) else None
    if match is None:
        raise ObservationError(f"territory_id={territory_id!r}: expected 't-' and 4+ digits")
    return int(match.group(1))


def territory_id(index: int) -> str:
    """Return the id of territory `index`: 7 -> 't-0007'."""
    return f"t-{index:04d}"


@dataclass(frozen=True)
class TerritoryBatch:
    """N territories' raw state; every array has N rows."""

    territory: np.ndarray  # int64 (N,) territory index
    seq: np.ndarray  # int64 (N,) tick number
    resources: np.ndarray  # float64 (N,)
    income: np.ndarray  # float64 (N,)
    upkeep: np.ndarray  # float64 (N,)
    base_health: np.ndarray  # float64 (N,) in [0, 1]
    units_lost: np.ndarray  # int64 (N,)
    chunk_threat: np.ndarray  # float64 (N, 8) in [0, 1]
    chunk_units: np.ndarray  # int64 (N, 8)
    unit_counts: np.ndarray  # int64 (N, 4)
    new_threat: np.ndarray  # float64 (N, 8): threat that arrived during the last tick

    def __len__(self) -> int:
        return int(self.territory.shape[0])

    def take(self, rows: np.ndarray | slice) -> TerritoryBatch:
        """Return the batch of the selected rows."""
        return TerritoryBatch(**{k: v[rows] for k, v in self.__dict__.items()})

    def with_arrays(self, **changes: np.ndarray) -> TerritoryBatch:
        """Return a copy with some arrays replaced."""
        return replace(self, **changes)

    @classmethod
    def from_rows(cls, rows: Sequence[Any]) -> TerritoryBatch:
        """Build a batch from objects carrying the Observation field names (e.g. records)."""
        return cls(
            territory=np.fromiter((territory_index(r.territory_id) for r in rows), np.int64),
            seq=np.fromiter((r.seq for r in rows), np.int64, len(rows)),
            resources=np.fromiter((r.resources for r in rows), np.float64, len(rows)),
            income=np.fromiter((r.income for r in rows), np.float64, len(rows)),
            upkeep=np.fromiter((r.upkeep for r in rows), np.float64, len(rows)),
            base_health=np.fromiter((r.base_health for r in rows), np.float64, len(rows)),
            units_lost=np.fromiter((r.units_lost for r in rows), np.int64, len(rows)),
            chunk_threat=np.array([r.chunk_threat for r in rows], np.float64).reshape(-1, N_CHUNKS),
            chunk_units=np.array([r.chunk_units for r in rows], np.int64).reshape(-1, N_CHUNKS),
            unit_counts=np.array([r.unit_counts for r in rows], np.int64).reshape(-1, N_TYPES),
            new_threat=np.array(
                [getattr(r, "new_threat", ()) or (0.0,) * N_CHUNKS for r in rows], np.float64
            ).reshape(-1, N_CHUNKS),
        )


def check_known(territory: str, rules_version: int, n_territories: int, known_rules: Any) -> None:
    """Raise ObservationError unless the territory and the rules version are known.

    The domain checks left once a record passed the contract's own validation (the codec's).
    """
    index = territory_index(territory)
    if index >= n_territories:
        msg = f"territory_id={territory!r}: unknown territory (world has {n_territories})"
        raise ObservationError(msg)
    if rules_version not in known_rules:
        raise ObservationError(f"rules_version={rules_version!r}: unknown rules")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ObservationError(f"{name}={value!r}: must be a number")
    if not math.isfinite(value):
        raise ObservationError(f"{name}={value!r}: must be finite")
    return float(value)


def validate_raw(obs: Any, n_territories: int) -> None:
    """Raise ObservationError when a raw observation cannot be turned into features.

    Checks: every field present; numbers finite; counts and amounts non-negative; threat and
    base health in [0, 1]; arrays of the right length; territory id known to the world.
    """
    missing = [
        name
        for name in ("territory_id", "seq", *SCALAR_FIELDS, *ARRAY_FIELDS)
        if getattr(obs, name, None) is None
    ]
    if missing:
        raise ObservationError(f"missing field(s): {', '.join(missing)}")
    index = territory_index(obs.territory_id)
    if index >= n_territories:
        msg = f"territory_id={obs.territory_id!r}: unknown territory (world has {n_territories})"
        raise ObservationError(msg)
    if _number("seq", obs.seq) < 0:
        raise ObservationError(f"seq={obs.seq!r}: must be >= 0")
    for name in SCALAR_FIELDS:
        if _number(name, getattr(obs, name)) < 0:
            raise ObservationError(f"{name}={getattr(obs, name)!r}: must be >= 0")
    if obs.base_health > 1:
        raise ObservationError(f"base_health={obs.base_health!r}: must be <= 1")
    for name, length in ARRAY_FIELDS.items():
        values = getattr(obs, name)
        if len(values) != length:
            raise ObservationError(f"{name}: {len(values)} values, expected {length}")
        for i, value in enumerate(values):
            if _number(f"{name}[{i}]", value) < 0:
                raise ObservationError(f"{name}[{i}]={value!r}: must be >= 0")
            if name == "chunk_threat" and value > 1:
                raise ObservationError(f"{name}[{i}]={value!r}: must be <= 1")
    new_threat = getattr(obs, "new_threat", ()) or ()
    if new_threat and len(new_threat) != N_CHUNKS:
        raise ObservationError(f"new_threat: {len(new_threat)} values, expected {N_CHUNKS}")
    for i, value in enumerate(new_threat):
        if not 0 <= _number(f"new_threat[{i}]", value) <= 1:
            raise ObservationError(f"new_threat[{i}]={value!r}: must be in [0, 1]")
