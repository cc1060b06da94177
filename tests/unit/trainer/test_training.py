import dataclasses

import numpy as np
import pytest
import torch

from queen.dynamics import expected_rewards
from queen.features import extract_features, state_from_features
from queen.gate import SimulationGate
from queen.model import initial_model
from queen.rules import RULES_V1, RULES_V2
from runtime.errors import SettingsError
from tests.unit.queen.test_world import visited_states
from trainer.buffer.buffer import Batch
from trainer.learner import Learner
from trainer.revalidate import training_targets
from trainer.settings import ContinuousTrainingConfig


def test_defaults_are_the_seeds_but_the_learning_rate():
    c = ContinuousTrainingConfig()
    assert (c.training_interval, c.batch_size, c.min_batch_size, c.buffer_capacity) == (
        1.0,
        32,
        8,
        10000,
    )
    assert (c.priority_sampling, c.simulation_reward_weight, c.actual_reward_weight) == (
        False,
        0.3,
        0.7,
    )
    # initial_lr 0.001 -> 0.003: docs/learning.md has the figures (issue 15)
    assert (c.initial_lr, c.lr_decay, c.min_lr, c.lr_decay_steps) == (0.003, 0.99, 0.0001, 100)
    assert (c.train_on_wait, c.wait_reward_multiplier) == (True, 0.5)
    assert ContinuousTrainingConfig.from_env({}) == c


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QUEEN_TRAINER_BATCH_SIZE": "0"}, "QUEEN_TRAINER_BATCH_SIZE=0"),
        ({"QUEEN_TRAINER_MIN_BATCH_SIZE": "64"}, "QUEEN_TRAINER_MIN_BATCH_SIZE=64"),
        ({"QUEEN_TRAINER_ACTUAL_REWARD_WEIGHT": "0.9"}, "must add up to 1"),
        ({"QUEEN_TRAINER_DISAGREEMENT_MODE": "ignore"}, "QUEEN_TRAINER_DISAGREEMENT_MODE='ignore'"),
        ({"QUEEN_TRAINER_TRAINING_INTERVAL": "soon"}, "QUEEN_TRAINER_TRAINING_INTERVAL='soon'"),
    ],
)
def test_bad_settings_name_the_variable_and_value(env, message):
    with pytest.raises(SettingsError, match=message):
        ContinuousTrainingConfig.from_env(env)


def test_learning_rate_schedule():
    c = ContinuousTrainingConfig(initial_lr=0.001)
    assert c.lr_at(0) == 0.001 and c.lr_at(99) == 0.001
    assert c.lr_at(100) == pytest.approx(0.00099)
    assert c.lr_at(250) == pytest.approx(0.001 * 0.99**2)
    assert c.lr_at(100_000) == 0.0001


def make_batch(n=4, send=(True, True, False, False), rules=RULES_V1):
    batch = visited_states(16).take(slice(0, n))
    features = extract_features(batch)
    action = np.array([1, 5, 9, 13])[:n]
    return Batch(
        indices=np.arange(n),
        weights=np.ones(n, np.float32),
        features=features,
        action=action,
        reward=np.array([1.0, -1.0, 2.0, -2.0], np.float32)[:n],
        expected_reward=np.zeros(n, np.float32),
        gate_send=np.array(send),
        rules_version=np.full(n, rules.version),
        event_time=np.zeros(n, np.int64),
        decision_id=[f"d{i}" for i in range(n)],
    )


class FixedGate(SimulationGate):
    """A gate whose verdicts and expected rewards are given (arithmetic tests)."""

    def __init__(self, send, expected):
        super().__init__(RULES_V1)
        self.send, self.expected = np.array(send), np.array(expected, float)

    def evaluate(self, features, action, confidence=None):
        from queen.gate import GateResult

        return GateResult(self.send, self.expected, "fixed")


@pytest.mark.parametrize("mode", ["penalty", "skip"])
def test_revalidation_arithmetic(mode):
    config = ContinuousTrainingConfig(
        disagreement_mode=mode, disagreement_penalty=0.5, loss_targets="taken"
    )
    batch = make_batch()  # logged: SEND, SEND, WAIT, WAIT
    gate = FixedGate([True, False, False, True], [10.0, 10.0, 10.0, 10.0])
    t = training_targets(batch, gate, config)
    assert t.agree.tolist() == [True, False, True, False]
    blended = 0.7 * np.array([1.0, -1.0, 2.0, -2.0]) + 0.3 * 10.0
    if mode == "penalty":
        assert t.keep.tolist() == [True, True, True, True]
        np.testing.assert_allclose(t.targets, blended - [0, 0.5, 0, 0.5], rtol=1e-6)
    else:
        assert t.keep.tolist() == [True, False, True, False]
        np.testing.assert_allclose(t.targets[t.keep], blended[[0, 2]], rtol=1e-6)
    np.testing.assert_allclose(t.weights, [1.0, 1.0, 0.5, 0.5])
    no_wait = training_targets(batch, gate, dataclasses.replace(config, train_on_wait=False))
    assert not no_wait.keep[2:].any()


def test_the_real_gate_disagrees_after_patch_day():
    batch = make_batch(send=(True, True, True, True))
    gate_v1, gate_v2 = SimulationGate(RULES_V1), SimulationGate(RULES_V2)
    logged = gate_v1.evaluate(batch.features, batch.action).send
    batch = dataclasses.replace(batch, gate_send=logged)
    config = ContinuousTrainingConfig(stale_rules="keep", loss_targets="taken")
    assert training_targets(batch, gate_v1, config).agree.all()
    state = state_from_features(batch.features)
    expected_v2 = expected_rewards(state, batch.action, np.ones(4, bool), RULES_V2)
    t = training_targets(batch, gate_v2, config)
    agreeing = t.agree
    np.testing.assert_allclose(
        t.targets[agreeing], 0.7 * batch.reward[agreeing] + 0.3 * expected_v2[agreeing], rtol=1e-5
    )


def test_a_step_lowers_the_loss_and_advances_the_version():
    learner = Learner(
        initial_model(0), ContinuousTrainingConfig(initial_lr=0.01), version=7, step=3
    )
    batch, gate = make_batch(), SimulationGate(RULES_V1)
    first = learner.step(batch, gate)
    assert (first.version, first.parent_version, first.step) == (8, 7, 4)
    for _ in range(100):
        last = learner.step(batch, gate)
    assert last.loss < first.loss * 0.2 and last.version == 108


def test_a_non_finite_loss_rolls_back_and_publishes_nothing():
    learner = Learner(initial_model(0), ContinuousTrainingConfig())
    gate = SimulationGate(RULES_V1)
    learner.step(make_batch(), gate)
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    poisoned = dataclasses.replace(make_batch(), reward=np.array([np.nan, 1, 1, 1], np.float32))
    assert learner.step(poisoned, gate) is None
    assert learner.rollbacks == 1 and learner.version == 1
    for name, value in learner.model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert learner.step(make_batch(), gate).version == 2


def test_non_finite_weights_roll_back_the_weights_and_the_optimizer_state():
    learner = Learner(initial_model(0), ContinuousTrainingConfig())
    gate = SimulationGate(RULES_V1)
    for _ in range(3):
        learner.step(make_batch(), gate)
    weights = {k: v.clone() for k, v in learner.model.state_dict().items()}
    state = {
        i: {k: v.clone() for k, v in s.items()}
        for i, s in enumerate(learner.optimizer.state_dict()["state"].values())
    }
    step = learner.optimizer.step

    def poisoned_step():
        step()
        with torch.no_grad():
            next(learner.model.parameters()).fill_(float("nan"))

    learner.optimizer.step = poisoned_step
    assert learner.step(make_batch(), gate) is None
    assert learner.rollbacks == 1 and learner.version == 3
    for name, value in learner.model.state_dict().items():
        assert torch.equal(value, weights[name]), name
    for i, s in enumerate(learner.optimizer.state_dict()["state"].values()):
        for k, v in s.items():
            assert torch.equal(v, state[i][k]), (i, k)
    learner.optimizer.step = step
    assert learner.step(make_batch(), gate).version == 4
