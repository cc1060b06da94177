"""Raw territory state → the 28 normalized features the Queen sees (docs/features.md).

Every normalization is invertible (x / (x + k) for unbounded amounts), so the simulation gate
can rebuild the raw state from logged features and re-validate old decisions at training time.
numpy only.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from queen.rules import N_CHUNKS, N_TYPES
from queen.state import TerritoryBatch

# (name, normalization) in feature order; "ratio:k" means x / (x + k), "identity" x in [0, 1].
FEATURE_SPEC: tuple[tuple[str, str], ...] = (
    *((f"threat_chunk_{c}", "identity") for c in range(N_CHUNKS)),
    *((f"units_chunk_{c}", "ratio:4") for c in range(N_CHUNKS)),
    ("workers", "ratio:10"),
    ("soldiers", "ratio:10"),
    ("scouts", "ratio:10"),
    ("guards", "ratio:10"),
    ("resources", "ratio:50"),
    ("income", "ratio:10"),
    ("upkeep", "ratio:5"),
    ("base_health", "identity"),
    ("units_lost", "ratio:2"),
    ("max_threat", "identity"),
    ("mean_threat", "identity"),
    ("net_income", "signed:10"),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURE_SPEC)
N_FEATURES = len(FEATURE_NAMES)
FEATURE_FINGERPRINT = hashlib.sha256(json.dumps(FEATURE_SPEC).encode()).hexdigest()[:16]

THREAT = slice(0, 8)
CHUNK_UNITS = slice(8, 16)
UNIT_COUNTS = slice(16, 20)
RESOURCES, INCOME, UPKEEP, BASE_HEALTH, UNITS_LOST = 20, 21, 22, 23, 24


def _ratio(x: np.ndarray, k: float) -> np.ndarray:
    return x / (x + k)


def _unratio(f: np.ndarray, k: float) -> np.ndarray:
    f = np.clip(f.astype(np.float64), 0.0, 1.0 - 1e-7)
    return k * f / (1.0 - f)


def extract_features(batch: TerritoryBatch) -> np.ndarray:
    """Return float32 (N, 28) features of a batch of raw states, each in [0, 1]."""
    n = len(batch)
    out = np.empty((n, N_FEATURES), dtype=np.float32)
    out[:, THREAT] = batch.chunk_threat
    out[:, CHUNK_UNITS] = _ratio(batch.chunk_units.astype(np.float64), 4.0)
    out[:, UNIT_COUNTS] = _ratio(batch.unit_counts.astype(np.float64), 10.0)
    out[:, RESOURCES] = _ratio(batch.resources, 50.0)
    out[:, INCOME] = _ratio(batch.income, 10.0)
    out[:, UPKEEP] = _ratio(batch.upkeep, 5.0)
    out[:, BASE_HEALTH] = batch.base_health
    out[:, UNITS_LOST] = _ratio(batch.units_lost.astype(np.float64), 2.0)
    out[:, 25] = batch.chunk_threat.max(axis=1)
    out[:, 26] = batch.chunk_threat.mean(axis=1)
    net = batch.income - batch.upkeep
    out[:, 27] = 0.5 + 0.5 * net / (np.abs(net) + 10.0)
    return out


def state_from_features(features: np.ndarray) -> TerritoryBatch:
    """Rebuild the raw state the gate needs from (N, 28) features (the inverse of extraction).

    Territory ids and seq are not features: they come back as 0.
    """
    f = np.asarray(features, dtype=np.float64)
    n = f.shape[0]
    return TerritoryBatch(
        territory=np.zeros(n, dtype=np.int64),
        seq=np.zeros(n, dtype=np.int64),
        resources=_unratio(f[:, RESOURCES], 50.0),
        income=_unratio(f[:, INCOME], 10.0),
        upkeep=_unratio(f[:, UPKEEP], 5.0),
        base_health=np.clip(f[:, BASE_HEALTH], 0.0, 1.0),
        units_lost=np.rint(_unratio(f[:, UNITS_LOST], 2.0)).astype(np.int64),
        chunk_threat=np.clip(f[:, THREAT], 0.0, 1.0),
        chunk_units=np.rint(_unratio(f[:, CHUNK_UNITS], 4.0)).astype(np.int64),
        unit_counts=np.rint(_unratio(f[:, UNIT_COUNTS], 10.0)).astype(np.int64),
        new_threat=np.zeros((n, N_CHUNKS)),
    )


assert N_FEATURES == 28 and N_TYPES == 4
