"""Learning, asserted (not timed): the continuous loop's policy beats random by a clear margin."""

import numpy as np
import pytest
import torch

from queen.world import WorldConfig
from trainer.curves import Evaluator, figures, first_tick_at, run_continuous
from trainer.settings import ContinuousTrainingConfig


@pytest.fixture
def one_thread():
    # tiny matrices: a second thread only adds synchronisation (3x slower on 2 busy cores)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_loop_learns_most_of_the_gap_and_recovers_from_patch_day(one_thread):
    # Fixed seeds, no clock: the continuous loop at the default settings on 32 territories,
    # patch day at tick 60. Fails if the loop stops learning or stops following the rules.
    config = WorldConfig(32, seed=0, rule_switch_tick=60)
    curve = run_continuous(config, 70, ContinuousTrainingConfig(), Evaluator(config, states=1024))
    share = np.asarray(curve.share)  # share[t] is served from tick t + 1
    assert share[0] < 0.5, f"the initial model already reaches {share[0]:.2f}"
    reached = first_tick_at(share[:59], 0.8)
    assert reached is not None and reached < 20, f"80% of the gap not held by tick 20: {share}"
    assert share[reached:59].min() > 0.75, "the share fell back before patch day"
    assert share[59] < 0.5, "patch day should cost most of the gap (new rules, old policy)"
    recovered = first_tick_at(share, 0.7, 59)
    assert recovered is not None and recovered <= 63, f"no recovery within 1 minute: {share[59:]}"
    assert curve.versions[-1] == 70 * 15  # a version per step, 15 steps per tick


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
