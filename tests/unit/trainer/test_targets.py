"""Issue 15's levers in re-validation: every action's target, older rules, propensities."""

import dataclasses

import numpy as np
import pytest
import torch

from queen.dynamics import expected_rewards_all
from queen.features import extract_features, state_from_features
from queen.gate import SimulationGate
from queen.model import initial_model
from queen.rules import N_ACTIONS, RULES_V1, RULES_V2
from runtime.errors import SettingsError
from tests.unit.queen.test_world import visited_states
from tests.unit.trainer.test_training import make_batch
from trainer.buffer.buffer import Batch
from trainer.learner import Learner
from trainer.revalidate import expected_table, training_targets
from trainer.settings import ContinuousTrainingConfig


def test_the_expected_table_is_the_gates_expectation_of_every_action():
    batch = make_batch()
    for rules in (RULES_V1, RULES_V2):
        table = expected_table(batch.features, rules)
        reference = expected_rewards_all(state_from_features(batch.features), rules)
        np.testing.assert_allclose(table, reference[:, :N_ACTIONS], rtol=1e-12)


def test_all_targets_keep_the_blend_on_the_taken_action_and_the_expectation_elsewhere():
    config = ContinuousTrainingConfig(loss_targets="all", counterfactual_weight=0.25)
    batch = make_batch()  # logged SEND, SEND, WAIT, WAIT
    gate = SimulationGate(RULES_V1)
    batch = dataclasses.replace(batch, gate_send=gate.evaluate(batch.features, batch.action).send)
    t = training_targets(batch, gate, config)
    table = expected_table(batch.features, RULES_V1)
    rows = np.arange(4)
    taken = table[rows, batch.action]
    sent = batch.gate_send
    blended = 0.7 * batch.reward + 0.3 * taken
    np.testing.assert_allclose(t.targets, np.where(sent, blended, taken), rtol=1e-5)
    others = np.ones((4, N_ACTIONS), bool)
    others[rows, batch.action] = False
    np.testing.assert_allclose(t.all_targets[others], table[others], rtol=1e-5)
    np.testing.assert_allclose(t.all_targets[rows, batch.action], t.targets)
    np.testing.assert_allclose(t.all_weights[rows, batch.action], t.weights)
    np.testing.assert_allclose(t.all_weights[~others].sum(), t.weights.sum())
    spread = np.broadcast_to(0.25 * t.weights[:, None], (4, N_ACTIONS - 1))
    np.testing.assert_allclose(t.all_weights[others].reshape(4, -1), spread)


def older_rules_batch():
    """Four rows judged under RULES_V1, re-validated after patch day by a RULES_V2 gate."""
    batch = make_batch(send=(True, True, True, True))
    logged = SimulationGate(RULES_V1).evaluate(batch.features, batch.action).send
    batch = dataclasses.replace(batch, gate_send=logged)
    rules = np.array([RULES_V1.version, RULES_V1.version, RULES_V2.version, RULES_V2.version])
    return dataclasses.replace(batch, rules_version=rules), SimulationGate(RULES_V2)


@pytest.mark.parametrize("mode", ["keep", "down-weight", "retire", "relabel"])
def test_rows_of_older_rules_are_kept_down_weighted_retired_or_relabelled(mode):
    batch, gate = older_rules_batch()
    config = ContinuousTrainingConfig(stale_rules=mode, stale_rules_weight=0.1)
    keep = training_targets(batch, gate, ContinuousTrainingConfig(stale_rules="keep"))
    t = training_targets(batch, gate, config)
    stale = np.array([True, True, False, False])
    np.testing.assert_allclose(t.targets[~stale], keep.targets[~stale])
    expected = gate.evaluate(batch.features, batch.action).expected_reward
    if mode == "keep":
        np.testing.assert_allclose(t.targets, keep.targets)
    elif mode == "down-weight":
        np.testing.assert_allclose(t.weights, keep.weights * np.where(stale, 0.1, 1.0))
    elif mode == "retire":
        assert t.keep.tolist() == [False, False, True, True]
    else:  # the new rules' expectation, no realized reward, no penalty
        np.testing.assert_allclose(t.targets[stale], expected[stale], rtol=1e-5)
        assert t.keep.all()


def test_propensity_weighting_is_the_inverse_of_the_logged_probability_clipped():
    config = ContinuousTrainingConfig(propensity_weighting=True, propensity_clip=10.0)
    batch = make_batch(send=(True, True, True, True))
    batch = dataclasses.replace(batch, propensity=np.array([0.903125, 0.003125, 0.001, 0.5]))
    t = training_targets(batch, SimulationGate(RULES_V1), config)
    expected = np.minimum(1.0 / (N_ACTIONS * batch.propensity), 10.0)
    np.testing.assert_allclose(t.weights, expected, rtol=1e-6)
    plain = training_targets(batch, SimulationGate(RULES_V1), ContinuousTrainingConfig())
    np.testing.assert_allclose(plain.weights, 1.0)
    # the other actions' targets are the gate's: the logging policy does not weigh them
    rows = np.arange(4)
    np.testing.assert_allclose(t.all_weights[rows, batch.action], expected, rtol=1e-6)
    others = np.ones((4, N_ACTIONS), bool)
    others[rows, batch.action] = False
    np.testing.assert_allclose(t.all_weights[others], 1.0)


def test_a_step_on_every_actions_targets_lowers_their_loss():
    config = ContinuousTrainingConfig(loss_targets="all", initial_lr=0.01)
    learner, gate = Learner(initial_model(0), config), SimulationGate(RULES_V1)
    first = learner.step(make_batch(), gate)
    for _ in range(100):
        last = learner.step(make_batch(), gate)
    assert last.loss < first.loss * 0.2
    assert last.errors.shape == (4,)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_the_optimizer_is_the_one_configured(name):
    learner = Learner(initial_model(0), ContinuousTrainingConfig(optimizer=name))
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[name]
    assert type(learner.optimizer) is kind


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QUEEN_TRAINER_LOSS_TARGETS": "some"}, "QUEEN_TRAINER_LOSS_TARGETS='some'"),
        ({"QUEEN_TRAINER_STALE_RULES": "drop"}, "QUEEN_TRAINER_STALE_RULES='drop'"),
        ({"QUEEN_TRAINER_STALE_RULES_WEIGHT": "2"}, "QUEEN_TRAINER_STALE_RULES_WEIGHT=2.0"),
        ({"QUEEN_TRAINER_COUNTERFACTUAL_WEIGHT": "-1"}, "QUEEN_TRAINER_COUNTERFACTUAL_WEIGHT"),
        ({"QUEEN_TRAINER_PROPENSITY_CLIP": "0.5"}, "QUEEN_TRAINER_PROPENSITY_CLIP=0.5"),
        ({"QUEEN_TRAINER_OPTIMIZER": "lion"}, "QUEEN_TRAINER_OPTIMIZER='lion'"),
    ],
)
def test_bad_new_settings_name_the_variable_and_value(env, message):
    with pytest.raises(SettingsError, match=message):
        ContinuousTrainingConfig.from_env(env)


def wide_batch(n):
    features = extract_features(visited_states(n))
    action = np.arange(n) % N_ACTIONS
    return Batch(
        indices=np.arange(n),
        weights=np.ones(n, np.float32),
        features=features,
        action=action,
        reward=np.full(n, -1.0, np.float32),
        expected_reward=np.zeros(n, np.float32),
        gate_send=SimulationGate(RULES_V1).evaluate(features, action).send,
        rules_version=np.full(n, RULES_V1.version),
        event_time=np.zeros(n, np.int64),
        decision_id=[str(i) for i in range(n)],
    )


@pytest.mark.parametrize(("rows", "updates"), [(320, 10), (64, 2), (32, 1), (5, 1), (640, 10)])
def test_a_step_is_one_update_per_batch_size_rows_up_to_updates_per_step(rows, updates):
    config = ContinuousTrainingConfig(updates_per_step=10, batch_size=32)
    learner, gate = Learner(initial_model(0), config), SimulationGate(RULES_V1)
    outcome = learner.step(wide_batch(rows), gate)
    adam_steps = {int(s["step"]) for s in learner.optimizer.state.values()}
    assert adam_steps == {updates}
    assert (outcome.version, outcome.step, outcome.batch_size) == (1, 1, rows)
    assert outcome.errors.shape == (rows,) and np.isfinite(outcome.errors).all()
