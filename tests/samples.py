"""One valid record of every contract type, for tests that need a record, not a property."""

from __future__ import annotations

import hashlib
import time
import uuid

from schemas.enums import (
    DecisionStatus,
    ErrorKind,
    GateDecision,
    PromotionKind,
    RewardSource,
    ServingMode,
    SpawnType,
)
from schemas.records import (
    Action,
    DeadLetter,
    Decision,
    Experience,
    ModelVersion,
    Observation,
    Promotion,
    Reward,
    RuleSet,
    Shadow,
    TrainingSummary,
)

# Game time of tick 0: the start of today (UTC), so sample event times pass the services'
# sanity check against the wall clock, and stay the same all day.
GAME_START_MS = int(time.time() // 86400) * 86400 * 1000


def observation(territory: int = 1, seq: int = 0, **changes: object) -> Observation:
    fields: dict[str, object] = dict(
        observation_id=uuid.uuid4().hex,
        territory_id=f"t-{territory:04d}",
        seq=seq,
        event_time=GAME_START_MS + 15_000 * seq,
        emitted_at=1_700_000_000_000_000,
        rules_version=1,
        resources=40.0,
        income=5.0,
        upkeep=1.5,
        base_health=0.9,
        units_lost=0,
        chunk_threat=(0.1, 0.0, 0.5, 0.9, 0.2, 0.0, 0.3, 0.05),
        chunk_units=(1, 0, 2, 0, 0, 1, 0, 0),
        unit_counts=(3, 1, 0, 0),
    )
    fields.update(changes)
    return Observation(**fields)  # type: ignore[arg-type]


def decision(territory: int = 1, seq: int = 0, **changes: object) -> Decision:
    fields: dict[str, object] = dict(
        decision_id=uuid.uuid4().hex,
        observation_id=uuid.uuid4().hex,
        territory_id=f"t-{territory:04d}",
        seq=seq,
        event_time=GAME_START_MS + 15_000 * seq,
        observation_emitted_at=1_700_000_000_000_000,
        decided_at=1_700_000_000_001_000,
        rules_version=1,
        model_version=0,
        features=tuple(i / 32 for i in range(28)),  # exact in Avro float (32-bit)
        action=Action(3, SpawnType.SOLDIER),
        action_probability=0.9,
        confidence=0.6,
        gate_decision=GateDecision.SEND,
        expected_reward=0.4,
        gate_version="gate-r1",
    )
    fields.update(changes)
    return Decision(**fields)  # type: ignore[arg-type]


def shadow(version: int = 2, greedy: int = 13, epsilon: float = 0.125) -> Shadow:
    """A candidate's epsilon-greedy scoring: 1 - ε + ε/32 on `greedy`, ε/32 on the others.

    ε = 1/8 keeps every probability exact in Avro float (32-bit).
    """
    probabilities = [epsilon / 32] * 32
    probabilities[greedy] += 1.0 - epsilon
    return Shadow(version, Action(greedy // 4, list(SpawnType)[greedy % 4]), tuple(probabilities))


def decision_with_shadow(territory: int = 1, seq: int = 0) -> Decision:
    """A decision of version 1 that the candidate version 2 scored too."""
    return decision(territory, seq, model_version=1, shadow=shadow())


def reward(territory: int = 1, seq: int = 0, **changes: object) -> Reward:
    fields: dict[str, object] = dict(
        territory_id=f"t-{territory:04d}",
        seq=seq,
        event_time=GAME_START_MS + 15_000 * (seq + 1),
        emitted_at=1_700_000_000_002_000,
        rules_version=1,
        reward=0.3,
        components={"economy": 0.5, "losses": -0.2},
        decision_id=None,
        decision_status=DecisionStatus.MISSING,
    )
    fields.update(changes)
    return Reward(**fields)  # type: ignore[arg-type]


def experience(territory: int = 1, seq: int = 0) -> Experience:
    return Experience(
        decision=decision(territory, seq),
        reward=0.3,
        reward_components={"economy": 0.5, "losses": -0.2},
        reward_source=RewardSource.MATCHED,
        decision_status=DecisionStatus.APPLIED,
        reward_emitted_at=1_700_000_000_002_000,
        joined_at=1_700_000_000_003_000,
        join_latency_ms=2,
    )


def model_version(version: int = 1, weights: bytes = b"weights") -> ModelVersion:
    return ModelVersion(
        model_name="queen",
        version=version,
        parent_version=version - 1,
        created_at=1_700_000_000_000_000,
        weights=weights,
        sha256=hashlib.sha256(weights).hexdigest(),
        architecture_fingerprint="arch",
        feature_fingerprint="feat",
        training=TrainingSummary(
            step=version, loss=0.1, batch_size=32, learning_rate=1e-3, gate_agreement=0.9
        ),
    )


def loadable_version(version: int, seed: int = 5, **changes: object) -> ModelVersion:
    """A ModelVersion inference can load: real weights (seeded), sha256 and fingerprints."""
    from queen.features import FEATURE_FINGERPRINT
    from queen.model import ARCHITECTURE_FINGERPRINT, initial_model
    from queen.weights import sha256_hex, to_safetensors

    weights = to_safetensors(initial_model(seed))
    fields: dict[str, object] = dict(
        model_name="queen",
        version=version,
        parent_version=version - 1,
        created_at=0,
        weights=weights,
        sha256=sha256_hex(weights),
        architecture_fingerprint=ARCHITECTURE_FINGERPRINT,
        feature_fingerprint=FEATURE_FINGERPRINT,
        training=None,
    )
    fields.update(changes)
    return ModelVersion(**fields)  # type: ignore[arg-type]


def derived_version(of: ModelVersion, model: object, number: int) -> ModelVersion:
    """A version numbered `number` with `model`'s weights, `of`'s fingerprints, made now."""
    from queen.weights import sha256_hex, to_safetensors

    weights = to_safetensors(model)  # type: ignore[arg-type]
    return ModelVersion(
        of.model_name,
        number,
        of.version,
        time.time_ns() // 1000,
        weights,
        sha256_hex(weights),
        of.architecture_fingerprint,
        of.feature_fingerprint,
        of.training,
    )


def dead_letter() -> DeadLetter:
    return DeadLetter(
        "queen.observations",
        0,
        7,
        b"t-0001",
        b"\x00",
        ErrorKind.CORRUPT_BODY,
        "CorruptBody: truncated",
        "inference",
        1_700_000_000_000_000,
    )


def rule_set(version: int = 1, **changes: object) -> RuleSet:
    """The RuleSet record of the built-in rules `version` (1 or 2), or of RULES_V1 renumbered."""
    from queen.rules import RULE_SETS

    rules = RULE_SETS.get(version, RULE_SETS[1])
    fields: dict[str, object] = dict(
        rules_version=version,
        published_at=1_700_000_000_000_000,
        publisher="game",
        note="",
        cost=rules.cost,
        upkeep=rules.upkeep,
        kill=rules.kill,
        harvest=rules.harvest,
        income=rules.income,
        heal=rules.heal,
    )
    fields.update(changes)
    return RuleSet(**fields)  # type: ignore[arg-type]


def promotion(version: int = 1, sha256: str = "0" * 64, **changes: object) -> Promotion:
    fields: dict[str, object] = dict(
        model_name="queen",
        model_version=version,
        sha256=sha256,
        kind=PromotionKind.PROMOTE,
        mode=ServingMode.GATED,
        version_record=b"",
        previous_version=None,
        created_at=1_700_000_000_000_000,
    )
    fields.update(changes)
    return Promotion(**fields)  # type: ignore[arg-type]


ALL = (
    observation,
    decision,
    decision_with_shadow,
    reward,
    experience,
    model_version,
    dead_letter,
    rule_set,
    promotion,
)
