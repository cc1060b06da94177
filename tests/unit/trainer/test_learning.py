"""Learning, asserted (not timed): the continuous loop's policy beats random by a clear margin."""

import numpy as np

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
