"""observe_many gives a histogram exactly what one observe() per value gives."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram

from runtime.metrics import SECONDS_BUCKETS, observe_many


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_observe_many_equals_observing_one_by_one():
    rng = np.random.default_rng(0)
    # every bucket, both sides of each bound, exactly on the bounds, and beyond the last one
    values = np.concatenate(
        [rng.exponential(0.05, 500), np.array(SECONDS_BUCKETS), np.array([0.0, 7.0, 1e9])]
    )
    one, many = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("lat_seconds", "latency", buckets=SECONDS_BUCKETS, registry=one)
    h2 = Histogram("lat_seconds", "latency", buckets=SECONDS_BUCKETS, registry=many)
    for v in values:
        h1.observe(float(v))
    observe_many(h2, values[:200])
    observe_many(h2, values[200:])
    observe_many(h2, np.array([]))

    expected, got = _samples(one), _samples(many)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key[0] == "lat_seconds_sum":
            assert np.isclose(got[key], value)
        else:
            assert got[key] == value, key
    assert got[("lat_seconds_count", "")] == len(values)
