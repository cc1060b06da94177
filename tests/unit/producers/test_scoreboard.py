"""The simulator's scoreboard: served decisions beside the random and oracle policies."""

import numpy as np

from producers.game.scoreboard import TickScore, score_tick
from queen.policy import OraclePolicy, RandomPolicy
from queen.rules import RULES_V1
from queen.world import World, WorldConfig


def test_the_oracle_holds_the_whole_gap_and_waiting_everywhere_does_not():
    batch = World(WorldConfig(n_territories=64, seed=3)).observe()
    action, send = OraclePolicy().act(batch, RULES_V1)
    oracle = score_tick(batch, action, send, RULES_V1)
    assert oracle.share is not None and abs(oracle.share - 1.0) < 1e-9
    assert oracle.random < oracle.oracle
    idle = score_tick(batch, np.full(64, -1), np.zeros(64, dtype=bool), RULES_V1)
    assert idle.served <= oracle.served
    assert idle.share is not None and idle.share < 1.0


def test_random_actions_score_near_the_random_baseline():
    batch = World(WorldConfig(n_territories=256, seed=4)).observe()
    shares = [
        score_tick(batch, RandomPolicy(seed).act(batch), np.ones(256, dtype=bool), RULES_V1).share
        for seed in range(8)
    ]
    assert all(s is not None for s in shares)
    assert abs(float(np.mean(shares))) < 0.1  # unbiased around 0 by construction


def test_an_empty_gap_has_no_share():
    assert TickScore(served=1.0, random=2.0, oracle=2.0).share is None
