from runtime.view import Snapshot, rate, render


def snapshot(at, ticks, decisions_send, decisions_wait, version):
    return Snapshot(
        at,
        {
            "game": {
                ("queen_game_ticks_total", ()): ticks,
                ("queen_game_observations_total", ()): ticks * 10,
                ("queen_game_reward_mean", ()): -2.5,
            },
            "inference": {
                ("queen_inference_decisions_total", (("gate", "SEND"),)): decisions_send,
                ("queen_inference_decisions_total", (("gate", "WAIT"),)): decisions_wait,
                ("queen_inference_served_model_version", ()): version,
            },
            "trainer": {("queen_trainer_current_model_version", ()): version + 1},
        },
    )


def test_rates_and_figures_come_from_the_scraped_samples():
    before, now = snapshot(10.0, 4, 10, 30, 2), snapshot(12.0, 8, 30, 50, 3)
    assert rate(now, before, "game", "queen_game_ticks_total") == 2.0
    assert rate(now, None, "game", "queen_game_ticks_total") is None
    lines = render(now, before, {"game": "running", "inference": "exited 1"})
    text = "\n".join(lines)
    assert "model version trained 4 · served 3" in text
    assert "SEND ratio 0.38" in text  # 30 / 80
    assert "exited 1" in text
    assert "joiner" in text and " - " in text  # a silent service shows '-'
