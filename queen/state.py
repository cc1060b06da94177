"""Raw territory state as arrays (struct of arrays), and its validation.

A TerritoryBatch holds N territories' raw observation fields, one array per field. Services
build one from records (`from_rows`, duck-typed on the Observation field names); the world
builds one from its own state. `validate_raw` checks one raw observation and raises
ObservationError naming the field. numpy only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from queen.errors import ObservationError
from queen.rules import N_CHUNKS, N_TYPES

SCALAR_FIELDS = ("resources", "income", "upkeep", "base_health", "units_lost")
NO_NEW_THREAT = (0.0,) * N_CHUNKS  # observations written before new_threat existed
ARRAY_FIELDS = {"chunk_threat": N_CHUNKS, "chunk_units": N_CHUNKS, "unit_counts": N_TYPES}


def territory_id(index: int) -> str:
    """Return the simulator's id of its territory `index`: 7 -> 't-0007'.

    Only the simulated world numbers its territories; to every service a territory id is an
    opaque, bounded string (the contract bounds its length), and nothing parses one.
    """
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
        """Build a batch from objects carrying the Observation field names (e.g. records).

        Territory ids are opaque outside the simulator: the `territory` column is 0 here
        (nothing computed from an observation depends on it).
        """
        n = len(rows)

        def column(name: str, dtype: type) -> np.ndarray:
            return np.fromiter((getattr(r, name) for r in rows), dtype, n)

        def matrix(name: str, dtype: type, width: int) -> np.ndarray:
            flat = itertools.chain.from_iterable(getattr(r, name) for r in rows)
            return np.fromiter(flat, dtype, n * width).reshape(n, width)

        return cls(
            territory=np.zeros(n, dtype=np.int64),
            seq=column("seq", np.int64),
            resources=column("resources", np.float64),
            income=column("income", np.float64),
            upkeep=column("upkeep", np.float64),
            base_health=column("base_health", np.float64),
            units_lost=column("units_lost", np.int64),
            chunk_threat=matrix("chunk_threat", np.float64, N_CHUNKS),
            chunk_units=matrix("chunk_units", np.int64, N_CHUNKS),
            unit_counts=matrix("unit_counts", np.int64, N_TYPES),
            new_threat=np.fromiter(
                itertools.chain.from_iterable(
                    getattr(r, "new_threat", ()) or NO_NEW_THREAT for r in rows
                ),
                np.float64,
                n * N_CHUNKS,
            ).reshape(n, N_CHUNKS),
        )


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ObservationError(f"{name}={value!r}: must be a number")
    if not math.isfinite(value):
        raise ObservationError(f"{name}={value!r}: must be finite")
    return float(value)


def validate_raw(obs: Any) -> None:
    """Raise ObservationError when a raw observation cannot be turned into features.

    Checks: every field present; numbers finite; counts and amounts non-negative; threat and
    base health in [0, 1]; arrays of the right length.
    """
    missing = [
        name
        for name in ("territory_id", "seq", *SCALAR_FIELDS, *ARRAY_FIELDS)
        if getattr(obs, name, None) is None
    ]
    if missing:
        raise ObservationError(f"missing field(s): {', '.join(missing)}")
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
