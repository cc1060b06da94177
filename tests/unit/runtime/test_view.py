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
            "promoter": {
                ("queen_promoter_model_version", (("role", "served"),)): version,
                ("queen_promoter_model_version", (("role", "candidate"),)): version + 1,
                **{
                    ("queen_promoter_estimate_reward", (("bound", b), ("role", "served"))): v
                    for b, v in (("lower", -1.2), ("upper", -1.0), ("value", -1.1))
                },
                ("queen_promoter_promotions_total", (("kind", "PROMOTE"),)): 2,
            },
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
    # served vs candidate: the served estimate with its interval; the candidate not scored yet
    assert "served v3 -1.100 [-1.200, -1.000] · candidate v4 · promoted 2" in text
