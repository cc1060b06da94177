"""BulkHistogram exposes exactly what a prometheus_client Histogram does, observing in bulk."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from runtime.metrics import SECONDS_BUCKETS, BulkHistogram, LoopMetrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_bulk_observation_equals_observing_one_by_one():
    rng = np.random.default_rng(0)
    # every bucket, both sides of each bound, exactly on the bounds, and beyond the last one
    values = np.concatenate(
        [rng.exponential(0.05, 500), np.array(SECONDS_BUCKETS), np.array([0.0, 7.0, 1e9])]
    )
    one, many = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("lat_seconds", "latency", buckets=SECONDS_BUCKETS, registry=one)
    h2 = BulkHistogram("lat_seconds", "latency", SECONDS_BUCKETS, many)
    for v in values:
        h1.observe(float(v))
    h2.observe_many(values[:200])
    h2.observe_many(values[200:])
    h2.observe_many(np.array([]))

    expected, got = _samples(one), _samples(many)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key[0] == "lat_seconds_sum":
            assert np.isclose(got[key], value)
        else:
            assert got[key] == value, key
    assert got[("lat_seconds_count", "")] == len(values)
    assert b'lat_seconds_bucket{le="+Inf"}' in generate_latest(many)


def test_shared_meanings_are_one_name_labelled_by_service_and_revoked_lag_goes():
    registry = CollectorRegistry()
    a = LoopMetrics.create(registry, "joiner")
    a.consumed.labels(topic="t").inc(3)
    a.record_stats(
        '{"topics": {"t": {"partitions": {"0": {"hi_offset": 10, "app_offset": 4},'
        ' "1": {"hi_offset": 5, "app_offset": 5}, "-1": {}}}}}'
    )
    value = registry.get_sample_value
    assert value("queen_records_consumed_total", {"service": "joiner", "topic": "t"}) == 3
    labels = {"service": "joiner", "topic": "t", "partition": "0"}
    assert value("queen_consumer_lag_records", labels) == 6
    a.forget_partitions([("t", 0)])
    assert value("queen_consumer_lag_records", labels) is None
    assert value("queen_consumer_lag_records", {**labels, "partition": "1"}) == 0
    info = [s for m in registry.collect() for s in m.samples if s.name == "queen_build_info"]
    assert info[0].labels["service"] == "joiner" and info[0].value == 1
