"""The view's trend: one point per game tick, rolling means, sparklines, patch day."""

from runtime.trend import Trend, sparkline
from runtime.view import Snapshot


def snap(ticks, share, agreement, rules=1, served=-1.0):
    game = {
        ("queen_game_ticks_total", ()): ticks,
        ("queen_game_gap_share_ratio", ()): share,
        ("queen_game_rules_version", ()): rules,
        ("queen_game_expected_reward", (("policy", "served"),)): served,
        ("queen_game_expected_reward", (("policy", "random"),)): -2.0,
        ("queen_game_expected_reward", (("policy", "oracle"),)): -0.5,
    }
    trainer = {("queen_trainer_gate_agreement_ratio", ()): agreement}
    return Snapshot(float(ticks), {"game": game, "trainer": trainer})


def test_sparkline_scales_and_leaves_gaps():
    assert sparkline([0.0, 0.5, 1.0, None, float("nan")], 0.0, 1.0) == "▁▅█  "
    assert sparkline([2.0, -1.0], 0.0, 1.0) == "█▁"  # clipped to the axis


def test_one_point_per_tick_and_the_means_of_the_window():
    trend = Trend(keep=10, window=2)
    assert trend.lines() == []
    trend.update(snap(0, 0.0, 0.0, rules=0))  # before the first tick: the gauges' zeros
    assert trend.lines() == []
    trend.update(snap(1, 0.2, 0.9))
    trend.update(snap(1, 0.9, 0.9))  # same tick scraped again: ignored
    trend.update(snap(2, 0.4, 0.8, served=-0.5))
    trend.update(snap(3, 0.6, 0.7, served=-1.5))
    assert [p.tick for p in trend.points] == [1, 2, 3]
    text = "\n".join(trend.lines())
    assert "share of the oracle-random gap 0.50" in text  # (0.4 + 0.6) / 2
    assert "served -1.000 · random -2.000 · oracle -0.500" in text
    assert "gate agreement 0.70" in text
    assert "a real game has no oracle" in text


def test_patch_day_is_marked_and_a_nan_share_is_a_gap():
    trend = Trend()
    trend.update(snap(1, 0.8, 0.95, rules=1))
    trend.update(snap(2, float("nan"), 0.6, rules=2))
    trend.update(snap(5, 0.3, 0.7, rules=2))
    assert trend.patch_tick == 2
    text = "\n".join(trend.lines())
    assert "rules changed 3 ticks ago" in text
    assert trend.points[1].share is None
