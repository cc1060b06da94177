import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queen.errors import ObservationError
from queen.features import FEATURE_NAMES, N_FEATURES, extract_features, state_from_features
from queen.state import TerritoryBatch, validate_raw


@dataclass(frozen=True)
class Raw:
    territory_id: str = "t-0003"
    seq: int = 5
    resources: float = 30.0
    income: float = 4.0
    upkeep: float = 1.0
    base_health: float = 0.8
    units_lost: int = 1
    chunk_threat: tuple = (0.1,) * 8
    chunk_units: tuple = (1,) * 8
    unit_counts: tuple = (2, 2, 2, 2)


amounts = st.floats(0, 1e6)
counts = st.integers(0, 10_000)
raws = st.builds(
    Raw,
    territory_id=st.integers(0, 63).map(lambda i: f"t-{i:04d}"),
    seq=st.integers(0, 10**9),
    resources=amounts,
    income=amounts,
    upkeep=amounts,
    base_health=st.floats(0, 1),
    units_lost=counts,
    chunk_threat=st.tuples(*[st.floats(0, 1)] * 8),
    chunk_units=st.tuples(*[counts] * 8),
    unit_counts=st.tuples(*[counts] * 4),
)


def test_there_are_28_named_features():
    assert N_FEATURES == 28 and len(set(FEATURE_NAMES)) == 28


@settings(max_examples=200, deadline=None)
@given(st.lists(raws, min_size=1, max_size=20))
def test_features_are_finite_and_in_unit_range_for_any_valid_state(rows):
    for row in rows:
        validate_raw(row)
    features = extract_features(TerritoryBatch.from_rows(rows))
    assert features.shape == (len(rows), 28) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert (features >= 0).all() and (features <= 1).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(raws, min_size=1, max_size=10))
def test_the_gate_can_rebuild_the_state_from_the_features(rows):
    rows = [
        replace(
            r,
            resources=min(r.resources, 5000.0),
            chunk_units=tuple(min(u, 50) for u in r.chunk_units),
            unit_counts=tuple(min(u, 100) for u in r.unit_counts),
        )
        for r in rows
    ]
    batch = TerritoryBatch.from_rows(rows)
    back = state_from_features(extract_features(batch))
    np.testing.assert_array_equal(back.chunk_units, batch.chunk_units)
    np.testing.assert_array_equal(back.unit_counts, batch.unit_counts)
    np.testing.assert_allclose(back.resources, batch.resources, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(back.chunk_threat, batch.chunk_threat, atol=1e-6)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (Raw(resources=math.nan), "resources=nan: must be finite"),
        (Raw(units_lost=-1), "units_lost=-1: must be >= 0"),
        (Raw(unit_counts=(1, -2, 0, 0)), r"unit_counts\[1\]=-2"),
        (Raw(chunk_threat=(0.1,) * 7), "chunk_threat: 7 values, expected 8"),
        (Raw(chunk_threat=(1.2,) + (0.1,) * 7), r"chunk_threat\[0\]=1.2: must be <= 1"),
        (Raw(base_health=None), "missing field"),
        (Raw(income=math.inf), "income=inf"),
    ],
)
def test_invalid_raw_state_is_refused_naming_the_field(raw, message):
    with pytest.raises(ObservationError, match=message):
        validate_raw(raw)


@pytest.mark.parametrize("territory_id", ["t-0099", "castle", "", "t-" + "9" * 5000, "🏰 north"])
def test_any_territory_id_is_opaque_to_the_features(territory_id):
    validate_raw(Raw(territory_id=territory_id))
    row = Raw(territory_id=territory_id)
    assert extract_features(TerritoryBatch.from_rows([row])).shape == (1, 28)
