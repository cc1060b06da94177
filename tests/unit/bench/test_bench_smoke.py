"""A tiny smoke of the benchmark code (benchmarks themselves are `make bench`, not tests)."""

from bench import components, live
from bench.__main__ import machine, report


def test_the_report_puts_each_figure_beside_its_goal_and_says_misses_plainly():
    figures = {
        "inference_obs_per_s": 12_000.0,
        "naive_obs_per_s": 2_000.0,
        "batched_over_naive": 6.0,
        "latency_ms_at_offered": {"offered_per_s": 2000.0, "p50": 3.0, "p99": 30.0},
        "hot_load_ms": {"p50": 40.0, "p99": 90.0, "versions": 20},
        "joiner_events_per_s": 60_000.0,
        "trainer_step_ms": {"batch_32": 2.0, "batch_256": 6.0},
        "inference_rss_mb": {"peak": 300.0, "growth_pct": 2.0},
        "learning": {
            "continuous": {"game_minutes_to_50pct": 15.0, "game_minutes_to_80pct": None},
            "coupled": {"game_minutes_to_50pct": None, "game_minutes_to_80pct": None},
        },
    }
    meta = {"date": "d", "machine": machine(), "broker": "embedded (Tansu)", "mode": "quick"}
    text = report(figures, meta)
    assert "| inference throughput, one process | 12,000 obs/s | ≥ 30,000 obs/s | **no** |" in text
    assert "≥ 5× | yes |" in text and "p99 ≤ 25 ms | **no** |" in text
    assert f"{meta['machine']['cores']} cores" in text


def test_percentiles_and_a_tiny_trainer_step():
    assert live.percentiles([]) == {"p50": None, "p99": None}
    assert live.percentiles([1.0, 2.0, 3.0])["p50"] == 2.0
    assert components.trainer_step_ms(8, repeats=2) > 0
