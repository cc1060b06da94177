"""A tiny smoke of the benchmark code (benchmarks themselves are `make bench`, not tests)."""

import dataclasses

from bench import budget, components, live, loop, plots, report
from bench.__main__ import machine, rss_summary
from schemas.records import TrainingSummary
from tests import samples


def figures(**changes):
    f = {
        "inference_obs_per_s": 12_000.0,
        "inference_busy": 0.97,
        "joiner_busy": 0.5,
        "naive_obs_per_s": 2_000.0,
        "batched_over_naive": 6.0,
        "latency_ms_at_offered": {
            "offered_per_s": 2000.0,
            "seconds": 5,
            "p50": 3.0,
            "p99": 30.0,
            "floor": {"p50": 2.0, "p99": 20.0},
            "whole_run": {
                "seconds": 30,
                "inference": {"p50": 9.0, "p99": 90.0},
                "floor": {"p50": 8.0, "p99": 80.0},
            },
        },
        "hot_load_ms": {"p50": 40.0, "p99": 90.0, "versions": 20},
        "rules_to_gate_s": {"patches": 5, "each": [0.1] * 5, "p50": 0.1, "max": 0.14},
        "freshness_s": {
            "p50": 1.2,
            "p90": 2.5,
            "n": 100,
            "baseline_p50": 30.0,
            "baseline_p90": 90.0,
            "baseline_n": 80,
            "gated_p50": 9.5,
            "gated_p90": 20.0,
            "gated_n": 40,
            "fresh_share": 0.5,
            "game_speed": 15.0,
            "territories": 8,
        },
        "joiner_events_per_s": 60_000.0,
        "trainer_step_ms": {
            "batch_32": 2.0,
            "batch_256": 6.0,
            "loop_mean_ms": 5.0,
            "utilization": 0.005,
        },
        "rss_mb": {
            "inference": {"peak": 300.0, "growth_pct": 2.0},
            "trainer": {"peak": 320.0, "growth_pct": 12.0},
        },
        "learning": {
            "continuous": {
                "game_minutes_to_50pct": 15.0,
                "game_minutes_to_80pct": 5.0,
                "share_of_gap_before_switch": 0.8,
            },
            "coupled": {
                "game_minutes_to_50pct": None,
                "game_minutes_to_80pct": None,
                "share_of_gap_before_switch": 0.3,
            },
            "run_game_minutes": 20.0,
            "coupled_run_game_minutes": 150.0,
        },
        "budget_us": {
            "inference": {"decode": 10.0, "handle": 5.0, "encode": 10.0},
            "joiner": {"decode": 10.0, "handle": 2.0, "encode": 8.0},
        },
        "profiles": {
            "inference": [{"function": "codec.py:1(encode)", "own_share": 0.2, "calls": 5}]
        },
        "faults": {
            "faults": {
                "trainer SIGKILL": {"stop_s": 0.1, "recovery_s": 4.4},
                "trainer SIGTERM": {"stop_s": 1.2, "recovery_s": 4.1},
            },
            "violations": 0,
            "observations": 3584,
            "late_ticks": 400,
        },
        "broker_loss_s": 12.0,
        "hostile_flood": {
            "records": 100_000,
            "rss_mb": {"joiner": {"before_mb": 235.0, "after_mb": 247.0, "rejected": 81394.0}},
        },
    }
    outcome = {"share_before": 0.4, "share_after": 0.7, "rolled_back_after_s": None}
    f["bad_version"] = {
        "gated": {**outcome, "bad_decisions": 0, "bad_served_s": 0.0},
        "immediate + rollback": {
            **outcome,
            "bad_decisions": 192,
            "bad_served_s": 1.9,
            "rolled_back_after_s": 2.0,
        },
        "immediate": {**outcome, "bad_decisions": 2400, "bad_served_s": 30.0, "share_after": 0.25},
    }
    f["client"] = {
        "decisions": 1984,
        "decisions_per_s": 256.0,
        "p50_ms": 36.56,
        "p99_ms": 100.28,
        "fallbacks": 1,
        "fallbacks_per_10k": 5.04,
        "deadline_s": 1.0,
    }
    f.update(changes)
    return f


def test_the_report_puts_each_figure_beside_its_goal_and_says_misses_plainly():
    meta = {"date": "d", "machine": machine(), "broker": "embedded (Tansu)", "mode": "quick"}
    text = report.render(figures(), meta)
    row = "| inference throughput, one process | 12,000 obs/s (loop thread busy 97%) |"
    assert row + " ≥ 30,000 obs/s | **no** |" in text
    assert "≥ 5× | yes |" in text and "p99 ≤ 25 ms | **no** |" in text
    assert "inference's own share: p50 +1.0 ms, p99 +10.0 ms" in text
    assert "p50 ≤ 2 s at the default interval | yes |" in text
    assert "growth < 10% | **no** |" in text, "the worst service decides"
    assert "coupled loop not reached (not reached) in 150 minutes, holding 0.30" in text
    assert "80%: ≥ 30.0× faster; 50%: ≥ 10.0× faster | continuous ≥ 10× faster | yes |" in text
    assert "| 20.0% | 5 | `codec.py:1(encode)` |" in text
    assert "| sum | 25.0 | 20.0 |" in text and "| 40,000/s | 50,000/s |" in text
    assert f"{meta['machine']['cores']} cores" in text
    assert "trainer SIGKILL 4.4 s; trainer SIGTERM 4.1 s (stopped in 1.2 s)" in text
    assert "3,584 observations: 0 broken promises | audit 0 | yes |" in text
    assert "joiner 235 → 247 MB (81,394 refused)" in text
    assert "p50 0.10 s, max 0.14 s (5 patches) | ≤ 2 s (QUEEN_RULES_WAIT_S) | yes |" in text
    assert (
        "p50 36.6 ms, p99 100.3 ms (1,984 decisions) | p99 within the 1 s deadline | yes |" in text
    )
    assert "| 5.0 (1 of 1,984) | ≤ 1 | **no** |" in text
    assert "p50 9.50 s, p90 20.00 s (n=40), beside immediate p50 1.20 s" in text
    assert (
        "0 decisions made with it over 0.0 s; served share of the gap 0.40 before → 0.70 " in text
    )
    assert "| never served | yes |" in text
    assert "192 decisions made with it over 1.9 s, rolled back 2.0 s after its first" in text
    assert "| rolled back within 10 s | yes |" in text
    assert "0.40 before → 0.25 after | reported (the seed's behaviour) | — |" in text


def test_gated_freshness_with_no_promotion_in_the_window_says_why():
    fresh = {**figures()["freshness_s"], "gated_p50": None, "gated_p90": None, "gated_n": 0}
    meta = {"date": "d", "machine": machine(), "broker": "embedded (Tansu)", "mode": "quick"}
    text = report.render(figures(freshness_s=fresh), meta)
    assert "no reward reached a promoted version within the run: the promoter's cooldown" in text
    assert "(n=0)" not in text


def test_the_learning_verdict_is_unknown_when_the_run_is_too_short_to_tell():
    learning = figures()["learning"]
    learning["coupled_run_game_minutes"] = 40.0  # coupled not there in 8× the continuous time
    verdicts = {row[0]: row[3] for row in report.rows(figures(learning=learning))}
    assert verdicts["game minutes to 80% (50%) of the oracle−random gap"] is None


def test_freshness_ends_at_the_first_decision_with_that_version_or_a_later_one():
    def version(n, *reward_times):
        training = TrainingSummary(n, 0.1, 32, 0.001, 1.0, tuple(reward_times))
        return samples.loadable_version(n, training=training)

    def decided(model_version, at):
        return dataclasses.replace(
            samples.decision(1, 0), model_version=model_version, decided_at=at
        )

    versions = [version(1, 1_000_000, 2_000_000), version(2, 3_000_000), version(3, 4_000_000)]
    decisions = [decided(0, 2_500_000), decided(2, 5_000_000), decided(1, 6_000_000)]
    # v1 was first served at 6 s, but v2 (which includes v1's training) already at 5 s;
    # v3 never served a decision before the run ended.
    assert loop.freshness(versions, decisions) == [4.0, 3.0, 2.0]
    # only the rewards emitted within the measured window count (start-up backlog is not)
    assert loop.freshness(versions, decisions, (2_000_000, 4_000_000)) == [3.0, 2.0]


def test_rss_growth_is_measured_after_warm_up_and_plots_are_written(tmp_path):
    summary = rss_summary([100.0, 200.0, 200.0, 200.0, 210.0])
    assert summary["peak"] == 210.0 and summary["growth_pct"] == 5.0
    assert rss_summary([])["growth_pct"] is None
    path = plots.cdf(tmp_path / "x.png", "t", "ms", {"a": [1.0, 2.0, 3.0], "b": []}, goal=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = {"continuous_share": [0.1, 0.5, 0.8], "coupled_share": [0.1, 0.2, 0.3]}
    assert plots.learning(tmp_path / "l.png", curves).stat().st_size > 1000


def test_the_budget_times_each_step_of_both_services():
    for measured in (budget.inference(64, repeats=1), budget.joiner(32, repeats=1)):
        assert set(measured) == {"decode", "handle", "encode"}
        assert all(us > 0 for us in measured.values())


def test_percentiles_and_a_tiny_trainer_step():
    assert live.percentiles([]) == {"p50": None, "p99": None}
    assert live.percentiles([1.0, 2.0, 3.0])["p50"] == 2.0
    assert components.trainer_step_ms(8, repeats=2) > 0
