"""Hypothesis strategies building valid records of every contract type (shared by tests)."""

from hypothesis import strategies as st

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
    N_ACTIONS,
    N_CHUNKS,
    N_FEATURES,
    N_SPAWN_TYPES,
    Action,
    DeadLetter,
    Decision,
    Experience,
    InputOffset,
    ModelVersion,
    Observation,
    Promotion,
    PromotionEvidence,
    Reward,
    RuleSet,
    Shadow,
    TrainingSummary,
)

ids = st.text(min_size=1, max_size=36)
epochs = st.text(max_size=20)
longs = st.integers(min_value=0, max_value=2**62)
times = st.integers(min_value=0, max_value=2**53)
seqs = st.integers(min_value=0, max_value=10**12)
ints = st.integers(min_value=-(2**31), max_value=2**31 - 1)
counts = st.integers(min_value=0, max_value=2**31 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
rewards_ = st.floats(min_value=-1000.0, max_value=1000.0)
non_negative = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
amounts = st.floats(min_value=0.0, max_value=1e9)
unit_counts = st.integers(min_value=0, max_value=10**6)
unit = st.floats(min_value=0.0, max_value=1.0)
unit32s = st.floats(min_value=0.0, max_value=1.0, width=32)
component_maps = st.dictionaries(st.text(min_size=1, max_size=12), rewards_, max_size=4)

observations = st.builds(
    Observation,
    observation_id=ids,
    territory_id=ids,
    seq=seqs,
    event_time=times,
    emitted_at=times,
    rules_version=ints,
    resources=amounts,
    income=amounts,
    upkeep=amounts,
    base_health=unit,
    units_lost=unit_counts,
    chunk_threat=st.tuples(*[unit] * N_CHUNKS),
    chunk_units=st.tuples(*[unit_counts] * N_CHUNKS),
    unit_counts=st.tuples(*[unit_counts] * N_SPAWN_TYPES),
    new_threat=st.just(()) | st.tuples(*[unit] * N_CHUNKS),
    epoch=epochs,
)
actions = st.builds(
    Action, spawn_chunk=st.integers(0, N_CHUNKS - 1), spawn_type=st.sampled_from(SpawnType)
)


@st.composite
def probability_rows(draw: st.DrawFn) -> tuple[float, ...]:
    """32 probabilities exact in Avro float that sum to 1: whole 1/1024ths of it."""
    cuts = sorted(
        draw(st.lists(st.integers(0, 1024), min_size=N_ACTIONS - 1, max_size=N_ACTIONS - 1))
    )
    bounds = [0, *cuts, 1024]
    return tuple((b - a) / 1024 for a, b in zip(bounds, bounds[1:], strict=False))


shadows = st.builds(Shadow, model_version=times, action=actions, probabilities=probability_rows())
decisions = st.builds(
    Decision,
    decision_id=ids,
    observation_id=ids,
    territory_id=ids,
    seq=seqs,
    event_time=times,
    observation_emitted_at=times,
    decided_at=times,
    rules_version=ints,
    model_version=times,
    features=st.tuples(*[unit32s] * N_FEATURES),
    action=actions,
    action_probability=st.floats(min_value=1e-9, max_value=1.0),
    confidence=unit,
    gate_decision=st.sampled_from(GateDecision),
    expected_reward=rewards_,
    gate_version=ids,
    epoch=epochs,
    shadow=st.none() | shadows,
)
rewards = st.builds(
    Reward,
    territory_id=ids,
    seq=seqs,
    event_time=times,
    emitted_at=times,
    rules_version=ints,
    reward=rewards_,
    components=component_maps,
    decision_id=st.none() | ids,
    decision_status=st.sampled_from(DecisionStatus),
    epoch=epochs,
    observation_id=st.none() | ids,
)
experiences = st.builds(
    Experience,
    decision=decisions,
    reward=rewards_,
    reward_components=component_maps,
    reward_source=st.sampled_from(RewardSource),
    decision_status=st.sampled_from(DecisionStatus),
    reward_emitted_at=st.none() | times,
    joined_at=times,
    join_latency_ms=times,
)
summaries = st.builds(
    TrainingSummary,
    step=times,
    loss=finite,
    batch_size=st.integers(0, 2**31 - 1),
    learning_rate=non_negative,
    gate_agreement=unit,
    first_use_reward_emitted_at=st.lists(longs, max_size=8).map(tuple),
    input_topic_id=epochs,
    input_offsets=st.lists(st.builds(InputOffset, st.integers(0, 1023), times), max_size=4).map(
        tuple
    ),
)
model_versions = st.builds(
    ModelVersion,
    model_name=ids,
    version=times,
    parent_version=st.none() | times,
    created_at=times,
    weights=st.binary(max_size=256),
    sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    architecture_fingerprint=ids,
    feature_fingerprint=ids,
    training=st.none() | summaries,
    key_id=st.none() | ids,
    signature=st.none() | st.binary(min_size=64, max_size=64),
)
dead_letters = st.builds(
    DeadLetter,
    source_topic=ids,
    partition=st.integers(0, 2**31 - 1),
    offset=longs,
    key=st.none() | st.binary(max_size=64),
    value=st.none() | st.binary(max_size=256),
    error_kind=st.sampled_from(ErrorKind),
    message=st.text(max_size=200),
    service=ids,
    failed_at=longs,
)
evidence = st.builds(
    PromotionEvidence,
    method=ids,
    value=finite,
    lower=finite,
    upper=finite,
    n=times,
    baseline_version=times,
    baseline_value=finite,
    baseline_lower=finite,
    baseline_upper=finite,
)
promotions = st.builds(
    Promotion,
    model_name=ids,
    model_version=times,
    sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    kind=st.sampled_from(PromotionKind),
    mode=st.sampled_from(ServingMode),
    version_record=st.binary(max_size=256),
    previous_version=st.none() | times,
    created_at=times,
    evidence=st.none() | evidence,
    reason=st.text(max_size=200),
    key_id=st.none() | ids,
    signature=st.none() | st.binary(min_size=64, max_size=64),
)

per_type = lambda high: st.tuples(*[st.floats(0.0, high)] * N_SPAWN_TYPES)  # noqa: E731
rule_sets = st.builds(
    RuleSet,
    rules_version=st.integers(0, 2**31 - 1),
    published_at=times,
    publisher=ids,
    note=st.text(max_size=200),
    cost=per_type(1e6),
    upkeep=per_type(1e6),
    kill=per_type(1.0),
    harvest=per_type(1e6),
    income=per_type(1e6),
    heal=per_type(1.0),
    key_id=st.none() | ids,
    signature=st.none() | st.binary(min_size=64, max_size=64),
)
BY_TYPE = {
    Observation: observations,
    Decision: decisions,
    Reward: rewards,
    Experience: experiences,
    ModelVersion: model_versions,
    DeadLetter: dead_letters,
    RuleSet: rule_sets,
    Promotion: promotions,
}
