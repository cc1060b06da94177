"""Learning, asserted (not timed): the continuous loop's policy beats random by a clear margin."""

import numpy as np
import pytest

from queen.world import WorldConfig
from trainer.curves import Evaluator, figures, first_tick_at, run_continuous
from trainer.settings import ContinuousTrainingConfig


def test_the_trained_policy_beats_random_by_a_clear_margin():
    config = WorldConfig(32, seed=0)
    curve = run_continuous(config, 60, ContinuousTrainingConfig(), Evaluator(config, states=1024))
    start, end = curve.share[0], float(np.mean(curve.share[-10:]))
    # share of the oracle − random gap on fixed states, by the exact expected reward
    assert end > 0.35, f"trained policy reaches only {end:.2f} of the gap"
    assert end > start + 0.1, f"no learning: {start:.2f} → {end:.2f}"
    assert curve.versions[-1] > 500  # a version per step, 15 steps per tick


def test_figures_read_milestones_off_the_share_curves():
    share = [0.1] * 10 + [0.85] * 10 + [0.2] * 5 + [0.9] * 10
    curves = {
        "continuous_share": share,
        "coupled_share": [0.1] * 35,
        "continuous": [0.0] * 35,
        "coupled": [0.0] * 35,
        "random": [-1.0] * 35,
        "oracle": [0.0] * 35,
        "gate_agreement": [1.0] * 20 + [0.5] * 5 + [1.0] * 10,
    }
    assert first_tick_at(share, 0.8) == 10
    report = figures(curves, switch=20)
    assert report["continuous"]["game_minutes_to_80pct"] == 11 * 0.25
    assert report["coupled"]["game_minutes_to_50pct"] is None
    assert report["continuous"]["recovery_game_minutes_to_80pct"] == 6 * 0.25
    assert report["gate_agreement_min_after_switch"] == 0.5


def test_before_patch_day_reads_only_shares_scored_under_the_old_rules():
    # share[t] is served from tick t + 1: with patch day at tick 20, share[19] is scored under
    # the new rules already and must not count "before patch day".
    share = [0.9] * 19 + [0.1] + [0.3] * 2 + [0.75] * 10
    curves = {
        "continuous_share": share,
        "continuous": [0.0] * 32,
        "random": [-1.0] * 32,
        "oracle": [0.0] * 32,
        "gate_agreement": [1.0] * 32,
    }
    report = figures(curves, switch=20)["continuous"]
    assert report["share_of_gap_before_switch"] == pytest.approx(0.9)
    assert report["share_right_after_switch"] == 0.1
    # 70% held from share[22], served from tick 23: 3 ticks after patch day
    assert report["recovery_game_minutes_to_70pct"] == 3 * 0.25
    assert report["game_minutes_to_90pct"] == 0.25
    assert "coupled" not in figures(curves, switch=20)


def test_make_curves_draws_a_png_and_prints_a_table_per_seed(tmp_path):
    from trainer.curve_plots import markdown_table, share_plot

    share = list(np.linspace(0.0, 1.0, 40))
    curves = {
        "continuous_share": share,
        "coupled_share": share[::-1],
        "continuous": [0.0] * 40,
        "coupled": [0.0] * 40,
        "random": [-1.0] * 40,
        "oracle": [0.0] * 40,
        "gate_agreement": [1.0] * 40,
    }
    path = share_plot(tmp_path / "share.png", {0: curves, 1: curves}, switch=20)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = {**figures(curves, 20), "trainer_cpu_ms_per_tick": 1.0, "trainer_cpu_ms_per_step": 0.1}
    table = markdown_table({0: report, 1: report}, switched=True)
    assert "| continuous loop | seed 0 | seed 1 |" in table
    assert "patch day → minutes to 50% / 70% / 90% of the new gap" in table
