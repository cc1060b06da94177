import numpy as np
import pytest
import torch

from queen.dynamics import expected_rewards_all
from queen.errors import WeightsError
from queen.features import FEATURE_FINGERPRINT, extract_features
from queen.gate import SimulationGate
from queen.model import ARCHITECTURE_FINGERPRINT, initial_model, regression_loss
from queen.policy import ExplorationConfig, ExplorationPolicy, action_probabilities
from queen.rules import N_ACTIONS, RULES_V1, RULES_V2
from queen.weights import load_weights, sha256_hex, to_safetensors
from tests.unit.queen.test_world import visited_states


def test_initial_model_is_the_same_in_every_process_for_a_seed():
    a, b, c = initial_model(0), initial_model(0), initial_model(1)
    assert to_safetensors(a) == to_safetensors(b) != to_safetensors(c)


def test_safetensors_round_trip_is_bit_exact():
    model = initial_model(3)
    data = to_safetensors(model)
    loaded = load_weights(data, sha256_hex(data), ARCHITECTURE_FINGERPRINT, FEATURE_FINGERPRINT)
    for (name, x), (_, y) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name
    assert to_safetensors(loaded) == data


def test_tampered_or_mismatched_weights_are_refused():
    data = to_safetensors(initial_model(0))
    digest = sha256_hex(data)
    tampered = data[:-4] + bytes(4)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_weights(tampered, digest)
    with pytest.raises(WeightsError, match="architecture fingerprint"):
        load_weights(data, digest, architecture_fingerprint="other")
    with pytest.raises(WeightsError, match="feature fingerprint"):
        load_weights(data, digest, feature_fingerprint="other")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_weights(b"garbage", sha256_hex(b"garbage"))
    model = initial_model(0)
    with torch.no_grad():
        model.net[0].weight[0, 0] = float("nan")
    bad = to_safetensors(model)
    with pytest.raises(WeightsError, match="non-finite"):
        load_weights(bad, sha256_hex(bad))


def test_epsilon_greedy_propensity_is_the_probability_of_the_pick():
    values = np.tile(np.arange(N_ACTIONS, dtype=np.float64), (40_000, 1))
    policy = ExplorationPolicy(ExplorationConfig("epsilon", epsilon=0.2), seed=1)
    out = policy.choose(values)
    greedy = out.actions == N_ACTIONS - 1
    assert out.propensity[greedy][0] == pytest.approx(0.8 + 0.2 / N_ACTIONS)
    assert out.propensity[~greedy][0] == pytest.approx(0.2 / N_ACTIONS)
    assert greedy.mean() == pytest.approx(0.8 + 0.2 / N_ACTIONS, abs=0.01)


def test_softmax_propensity_matches_empirical_frequency():
    values = np.tile(np.linspace(0, 0.3, N_ACTIONS), (40_000, 1))
    out = ExplorationPolicy(ExplorationConfig("softmax", temperature=0.1), seed=2).choose(values)
    top = out.actions == N_ACTIONS - 1
    assert top.mean() == pytest.approx(out.propensity[top][0], abs=0.01)
    assert ((out.propensity > 0) & (out.propensity <= 1)).all()
    assert ((out.confidence >= 0) & (out.confidence <= 1)).all()


@pytest.mark.parametrize(
    "config",
    [ExplorationConfig("epsilon", epsilon=0.1), ExplorationConfig("softmax", temperature=0.05)],
    ids=["epsilon", "softmax"],
)
def test_action_probabilities_are_the_propensities_choose_logs(config):
    """The target policy of off-policy evaluation is the exploring policy's own rule."""
    values = np.random.default_rng(4).normal(0, 0.2, (20_000, N_ACTIONS)).astype(np.float32)
    values[:50] = 0.0  # ties: both take the first maximum
    policy = ExplorationPolicy(config, seed=5)
    probs = policy.probabilities(values)
    np.testing.assert_allclose(probs, action_probabilities(values, config))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    out, rows = policy.choose(values), np.arange(len(values))
    np.testing.assert_allclose(probs[rows, out.actions], out.propensity, rtol=1e-6)
    # and they are the frequencies: the greedy action's share over all rows
    greedy = values.argmax(axis=1)
    picked = (out.actions == greedy).mean()
    assert picked == pytest.approx(probs[rows, greedy].mean(), abs=0.01)
    with pytest.raises(ValueError, match="values shape"):
        action_probabilities(values[:, :8], config)


def test_regression_step_fits_a_fixed_batch():
    torch.manual_seed(0)
    model = initial_model(0)
    features = torch.rand(64, 28)
    actions = torch.randint(0, N_ACTIONS, (64,))
    targets = torch.randn(64)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    first, _ = regression_loss(model, features, actions, targets)
    for _ in range(200):
        loss, _ = regression_loss(model, features, actions, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first.item()


def test_gate_sends_good_actions_and_disagrees_after_patch_day():
    batch = visited_states()
    features = extract_features(batch)
    table = expected_rewards_all(batch, RULES_V1)
    best, worst = table[:, :N_ACTIONS].argmax(1), table[:, :N_ACTIONS].argmin(1)
    gate = SimulationGate(RULES_V1)
    assert gate.evaluate(features, best).send.mean() > 0.9
    assert gate.evaluate(features, worst).send.mean() < 0.1
    result = gate.evaluate(features, best)
    np.testing.assert_allclose(result.expected_reward, table[np.arange(len(best)), best], atol=1e-3)
    patched = gate.follow(RULES_V2)
    agreement = (patched.evaluate(features, best).send == result.send).mean()
    assert agreement < 0.8, "the drift signal: old decisions are judged differently"
    assert patched.gate_version != gate.gate_version
