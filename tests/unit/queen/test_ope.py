"""Off-policy estimators: exact values on hand-made logs, coverage on the simulator's logs."""

import dataclasses

import numpy as np
import pytest

from queen.ope import Logged, doubly_robust, estimate, ips, mean_estimate, snips

Z95 = 1.959963984540054


def hand_log(n: int = 6, seed: int = 0) -> tuple[Logged, np.ndarray]:
    """n rows of 4 actions: a logging policy's probabilities (n, 4) and what it logged."""
    rng = np.random.default_rng(seed)
    logging = rng.dirichlet(np.ones(4), n)
    actions = np.array([rng.choice(4, p=row) for row in logging])
    rewards = rng.normal(0.0, 1.0, n)
    return Logged(actions, logging[np.arange(n), actions], rewards), logging


def test_target_equal_to_logging_gives_the_mean_reward_and_its_normal_interval():
    logged, logging = hand_log()
    half = Z95 * logged.rewards.std(ddof=1) / np.sqrt(6)
    for e in (ips(logged, logging), snips(logged, logging)):
        assert e.value == pytest.approx(logged.rewards.mean(), rel=1e-12)
        assert e.n == 6 and e.effective_n == pytest.approx(6.0)
        assert (e.lower, e.upper) == pytest.approx((e.value - half, e.value + half), rel=1e-9)
    assert mean_estimate(logged.rewards) == dataclasses.replace(ips(logged, logging), method="mean")


def test_a_deterministic_target_counts_only_its_own_actions():
    logged = Logged(np.array([0, 1, 0, 2]), np.array([0.5, 0.25, 0.5, 0.25]), np.arange(1.0, 5.0))
    always_0 = np.tile([1.0, 0.0, 0.0], (4, 1))
    assert ips(logged, always_0).value == pytest.approx((1 / 0.5 + 3 / 0.5) / 4)
    assert snips(logged, always_0).value == pytest.approx((1 * 2 + 3 * 2) / (2 + 2))
    assert ips(logged, always_0).effective_n == pytest.approx(4**2 / 8)
    q = np.tile([10.0, 20.0, 30.0], (4, 1))
    dr = doubly_robust(logged, always_0, q)
    assert dr.value == pytest.approx(10 + ((1 - 10) / 0.5 + (3 - 10) / 0.5) / 4)
    assert estimate("dr", logged, always_0, q) == dr
    assert estimate("ips", logged, always_0) == ips(logged, always_0)
    assert estimate("snips", logged, always_0) == snips(logged, always_0)


def test_dr_with_a_perfect_model_and_noiseless_rewards_is_the_direct_method_exactly():
    rng = np.random.default_rng(1)
    logged, _ = hand_log(50, seed=1)
    q = rng.normal(0.0, 1.0, (50, 4))
    logged = Logged(logged.actions, logged.propensities, q[np.arange(50), logged.actions])
    target = rng.dirichlet(np.ones(4), 50)
    e = doubly_robust(logged, target, q)
    assert e.value == pytest.approx((target * q).sum(axis=1).mean(), rel=1e-12)
    # one context repeated: every per-row term is the true value, the interval has no width
    q1, target1 = np.tile(q[0], (50, 1)), np.tile(target[0], (50, 1))
    logged1 = Logged(logged.actions, logged.propensities, q1[0, logged.actions])
    e = doubly_robust(logged1, target1, q1)
    assert e.value == pytest.approx(target[0] @ q[0], rel=1e-12)
    assert e.upper - e.lower == pytest.approx(0.0, abs=1e-12)


def test_dr_with_a_zero_model_is_ips():
    logged, _ = hand_log(20, seed=2)
    target = np.random.default_rng(2).dirichlet(np.ones(4), 20)
    dr, plain = doubly_robust(logged, target, np.zeros((20, 4))), ips(logged, target)
    assert (dr.value, dr.lower, dr.upper) == pytest.approx((plain.value, plain.lower, plain.upper))


def test_too_few_rows_give_infinite_bounds():
    logged, logging = hand_log(1)
    for e in (ips(logged, logging), snips(logged, logging), mean_estimate(logged.rewards)):
        assert e.value == pytest.approx(logged.rewards[0]) and e.n == 1
        assert (e.lower, e.upper) == (-np.inf, np.inf)
    empty = Logged(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    for e in (
        ips(empty, np.zeros((0, 4))),
        snips(empty, np.zeros((0, 4))),
        doubly_robust(empty, np.zeros((0, 4)), np.zeros((0, 4))),
    ):
        assert np.isnan(e.value) and (e.lower, e.upper) == (-np.inf, np.inf)
        assert e.n == 0 and e.effective_n == 0.0


def test_snips_without_weight_on_any_logged_action_is_no_estimate():
    logged = Logged(np.array([1, 2, 1]), np.full(3, 0.5), np.ones(3))
    e = snips(logged, np.tile([1.0, 0.0, 0.0], (3, 1)))
    assert np.isnan(e.value) and (e.lower, e.upper) == (-np.inf, np.inf)
    assert ips(logged, np.tile([1.0, 0.0, 0.0], (3, 1))).value == 0.0


@pytest.mark.parametrize(
    ("actions", "propensities", "rewards", "message"),
    [
        ([0, 1], [0.5, 0.0], [1.0, 1.0], "propensity 0.0"),
        ([0, 1], [0.5, 1.5], [1.0, 1.0], "propensity 1.5"),
        ([0, 1], [0.5, np.nan], [1.0, 1.0], "propensity nan"),
        ([0, 1], [0.5, 0.5], [1.0, np.inf], "rewards"),
        ([0, 1], [0.5, 0.5], [1.0], "same length"),
        ([0, -1], [0.5, 0.5], [1.0, 1.0], "action -1"),
        ([0.0, 1.0], [0.5, 0.5], [1.0, 1.0], "integers"),
    ],
)
def test_bad_logs_are_refused_naming_the_problem(actions, propensities, rewards, message):
    with pytest.raises(ValueError, match=message):
        Logged(np.array(actions), np.array(propensities), np.array(rewards))


def test_bad_targets_models_methods_and_confidences_are_refused():
    logged, logging = hand_log()
    with pytest.raises(ValueError, match="sums to"):
        ips(logged, logging * 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        ips(logged, np.tile([1.5, -0.5, 0.0, 0.0], (6, 1)))
    with pytest.raises(ValueError, match="shape"):
        ips(logged, logging[:5])
    with pytest.raises(ValueError, match="action 3"):
        snips(Logged(np.full(6, 3), logged.propensities, logged.rewards), np.full((6, 3), 1 / 3))
    with pytest.raises(ValueError, match="finite"):
        doubly_robust(logged, logging, np.full((6, 4), np.nan))
    with pytest.raises(ValueError, match="q_table shape"):
        doubly_robust(logged, logging, np.zeros((6, 5)))
    with pytest.raises(ValueError, match="needs a q_table"):
        estimate("dr", logged, logging)
    with pytest.raises(ValueError, match="method='direct'"):
        estimate("direct", logged, logging)
    for confidence in (0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="confidence"):
            ips(logged, logging, confidence=confidence)
