"""A bad but valid version published while the loop runs, under three serving setups.

- gated: inference serves what the promoter promotes (the default);
- immediate + rollback: every version served at once, the promoter rolls back;
- immediate: every version served at once, no promoter (the seed's behaviour).

Each setup is a whole loop (game, inference, joiner, trainer, and the promoter where it has one;
tests/e2e/harness.LoopHarness), run one after another so they do not share the two cores. Once
the loop serves a trained version and has played `before_s`, a version *trained on flipped
rewards* is published: the newest version's weights fitted to the negated expected reward of
every action on the contexts the loop just saw, so its greedy action is the one the gate
expects worst. It is signed with the trainer's key and numbered 1,000 ahead of the trainer, so
in immediate mode nothing the trainer publishes supersedes it. For `after_s` the game's own
score of the served decisions (its exact expected reward and share of the random→oracle gap,
producers/game/scoreboard.py) is sampled, and the topics say how long the bad version served.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from consumers.promoter.settings import PromoterSettings
from queen.gate import expected_table
from queen.rules import RULE_SETS
from queen.weights import load_weights
from runtime.kafka import make_producer
from runtime.signing import Signer, load_private_key
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import PromotionKind
from schemas.records import Decision, ModelVersion, Promotion
from tests.e2e.harness import LoopHarness
from tests.samples import derived_version

CODEC = AvroSingleObjectCodec.default()
SPEED = "40"  # a tick every 0.375 s
TERRITORIES = 32
AHEAD = 1000  # the bad version's number, ahead of the trainer's
# The promoter as deployed (the test harness's faster settings are not what is measured here).
PROMOTER_DEFAULTS = {
    "QUEEN_PROMOTER_MIN_SAMPLES": str(PromoterSettings.min_samples),
    "QUEEN_PROMOTER_WINDOW": str(PromoterSettings.window),
    "QUEEN_PROMOTER_EVALUATE_INTERVAL_S": str(PromoterSettings.evaluate_interval_s),
}
SETUPS = {  # name: (QUEEN_SERVING_MODE, run the promoter)
    "gated": ("gated", True),
    "immediate + rollback": ("immediate", True),
    "immediate": ("immediate", False),
}


@dataclass
class Outcome:
    """What one setup did with the bad version."""

    setup: str
    bad_decisions: int = 0  # decisions made with the bad version
    bad_served_s: float = 0.0  # first to last decision made with it
    rolled_back_after_s: float | None = None  # first bad decision -> the rollback's creation
    share_before: float | None = None  # mean share of the random -> oracle gap, served
    share_after: float | None = None
    reward_before: float | None = None  # mean exact expected reward per decision, served
    reward_after: float | None = None


def scenario(
    bootstrap: str, before_s: float = 10.0, after_s: float = 30.0
) -> dict[str, dict[str, Any]]:
    """Run every setup; return each one's outcome as a dict (the bench's figures)."""
    out = {}
    for name, (mode, promoter) in SETUPS.items():
        with tempfile.TemporaryDirectory() as work:
            outcome = _one(bootstrap, Path(work), name, mode, promoter, before_s, after_s)
        out[name] = vars(outcome)
    return out


def _one(
    bootstrap: str,
    work: Path,
    name: str,
    mode: str,
    promoter: bool,
    before_s: float,
    after_s: float,
) -> Outcome:
    loop = LoopHarness(bootstrap, work, territories=TERRITORIES)
    outcome = Outcome(name)
    try:
        env = {"QUEEN_SERVING_MODE": mode}
        loop.start("inference", **env)
        loop.start("joiner")
        loop.start("trainer")
        if promoter:
            loop.start("promoter", **env, **PROMOTER_DEFAULTS)
        _wait(lambda: all(loop.metrics(n) for n in loop.processes), 90)
        loop.start("game", "--speed", SPEED)
        _wait(lambda: (loop.metric("inference", "queen_inference_served_model_version") or 0) > 0)
        before = _sample(loop, before_s)
        bad = flipped(loop)
        producer = make_producer(loop.settings)
        producer.produce(loop.topic("model-versions"), CODEC.encode(bad), b"queen")
        producer.flush(10)
        after = _sample(loop, after_s)
    finally:
        loop.stop_all()
    decisions = [CODEC.decode(m.value(), Decision) for m in _all(loop, "decisions")]
    promotions = [CODEC.decode(m.value(), Promotion) for m in _all(loop, "promotions")]
    outcome.share_before, outcome.reward_before = before
    outcome.share_after, outcome.reward_after = after
    served = sorted(d.decided_at for d in decisions if d.model_version == bad.version)
    outcome.bad_decisions = len(served)
    if served:
        outcome.bad_served_s = (served[-1] - served[0]) / 1e6
        rollbacks = [
            p.created_at
            for p in promotions
            if p.kind is PromotionKind.ROLLBACK and p.previous_version == bad.version
        ]
        if rollbacks:
            outcome.rolled_back_after_s = (min(rollbacks) - served[0]) / 1e6
    return outcome


def flipped(loop: LoopHarness, steps: int = 300) -> ModelVersion:
    """The newest version, trained on flipped rewards on the loop's recent contexts; signed."""
    versions = [CODEC.decode(m.value(), ModelVersion) for m in loop.reader("model-versions").poll()]
    of = max(versions, key=lambda v: v.version)
    model = load_weights(of.weights, of.sha256, of.architecture_fingerprint, of.feature_fingerprint)
    seen = [CODEC.decode(m.value(), Decision) for m in loop.reader("decisions").poll()][-500:]
    features = torch.from_numpy(np.asarray([d.features for d in seen], np.float32))
    target = -torch.from_numpy(expected_table(features.numpy(), RULE_SETS[1])).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(features), target)
        loss.backward()
        optimizer.step()
    record = derived_version(of, model, of.version + AHEAD)
    return Signer(load_private_key(loop.keys["QUEEN_SIGNING_KEY_FILE"])).sign(record)


def _sample(
    loop: LoopHarness, seconds: float, every: float = 0.5
) -> tuple[float | None, float | None]:
    """Mean gap share and expected reward of the served decisions over `seconds`."""
    shares, rewards = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(every)  # a sampling period, not a synchronisation
        share = loop.metric("game", "queen_game_gap_share_ratio")
        reward = loop.metric("game", "queen_game_expected_reward", policy="served")
        if share is not None and np.isfinite(share):
            shares.append(share)
        if reward is not None and np.isfinite(reward):
            rewards.append(reward)
    return (
        float(np.mean(shares)) if shares else None,
        float(np.mean(rewards)) if rewards else None,
    )


def _all(loop: LoopHarness, topic: str) -> list[Any]:
    """Every record of `topic` (the loop is stopped: the topic goes idle)."""
    return loop.reader(topic).poll_all(idle=1.0)


def _wait(condition: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench.promotion: waited {timeout} s")
        time.sleep(0.1)  # polling a condition with a deadline
