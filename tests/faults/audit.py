"""An end-to-end audit of every topic of a loop, by an independent reader.

It reads observations, decisions, rewards, experiences and model versions whole (the codec
only, none of the services' code) and counts every way the loop's promises can break. Every
count of `Audit.violations()` must be 0:

- observations without a decision: inference never answered one.
- observations rewarded twice, or whose reward names a decision that does not answer them.
- the decision of a tick (the one its reward names, else the first that answers the
  observation) without an experience, or with conflicting experiences (a joiner re-joining
  after a crash writes the same experience again: that is allowed, a different one is not).
- decisions that are not their tick's decision but got an experience anyway.
- MATCHED experiences whose reward is not their own tick's; DEFAULT experiences whose tick
  has a reward on the topic.
- decision ids trained twice: taken into the buffer by published versions more than once; and
  experiences no published version took at all (once the pipeline has drained).
- version numbers used twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from schemas.codec import AvroSingleObjectCodec
from schemas.enums import DecisionStatus, RewardSource
from schemas.errors import SchemaError
from schemas.records import Decision, Experience, ModelVersion, Observation, Reward
from tests.e2e.harness import LoopHarness

CODEC = AvroSingleObjectCodec.default()


def _read(harness: LoopHarness, topic: str, record_type: type) -> list:
    out: list = []
    for message in harness.reader(topic).poll_all():
        try:
            out.append(CODEC.decode(message.value() or b"", record_type))
        except SchemaError:
            continue  # injected bad records: the services dead-letter them
    return out


@dataclass
class Audit:
    """What the topics say."""

    observations: int = 0
    decisions: int = 0
    experiences: int = 0
    versions: int = 0
    trained: int = 0
    late_ticks: int = 0  # rewards that name no decision: none came in time (a figure, not a fault)
    counts: dict[str, int] = field(default_factory=dict)

    def violations(self) -> dict[str, int]:
        """Every count that must be 0, by name."""
        return dict(self.counts)


def audit(harness: LoopHarness) -> Audit:
    """Read every topic of `harness` and count what breaks a promise."""
    versions: list[ModelVersion] = _read(harness, "model-versions", ModelVersion)
    return count(
        _read(harness, "observations", Observation),
        _read(harness, "decisions", Decision),
        _read(harness, "rewards", Reward),
        _read(harness, "experiences", Experience),
        versions,
        harness.taken({(v.version, v.created_at) for v in versions}),
    )


def count(
    observations: list[Observation],
    decisions: list[Decision],
    rewards: list[Reward],
    experiences: list[Experience],
    versions: list[ModelVersion],
    trained: list[str],
) -> Audit:
    """Count what breaks a promise in the records of a loop (`trained`: ids taken, in order)."""
    by_observation: dict[str, list[Decision]] = defaultdict(list)
    for d in decisions:  # in offset order per partition: a territory's decisions keep theirs
        by_observation[d.observation_id].append(d)
    rewards_of: dict[str, list[Reward]] = defaultdict(list)
    for r in rewards:
        rewards_of[r.observation_id or ""].append(r)
    experiences_of: dict[str, list[Experience]] = defaultdict(list)
    for e in experiences:
        experiences_of[e.decision.decision_id].append(e)

    counts: Counter[str] = Counter()
    canonical: set[str] = set()
    for obs in observations:
        answers = by_observation.get(obs.observation_id, [])
        if not answers:
            counts["observations_without_a_decision"] += 1
            continue
        mine = rewards_of.get(obs.observation_id, [])
        if len(mine) > 1:
            counts["observations_rewarded_twice"] += 1
        named = mine[0].decision_id if mine else None
        if named is not None and named not in {d.decision_id for d in answers}:
            counts["rewards_naming_a_decision_of_another_observation"] += 1
        canonical.add(named or answers[0].decision_id)
    late = sum(1 for r in rewards if r.decision_status is DecisionStatus.MISSING)

    reward_of_tick = {(r.epoch, r.territory_id, r.seq): r for r in rewards}
    for d in decisions:
        found = experiences_of.get(d.decision_id, [])
        if d.decision_id in canonical:
            if not found:
                counts["tick_decisions_without_an_experience"] += 1
            elif len({(e.reward, e.reward_source, e.decision_status) for e in found}) > 1:
                counts["decisions_with_conflicting_experiences"] += 1
        elif found:
            counts["duplicate_decisions_with_an_experience"] += 1
        for e in found[:1]:
            reward = reward_of_tick.get((d.epoch, d.territory_id, d.seq))
            if e.reward_source is RewardSource.DEFAULT and reward is not None:
                counts["default_experiences_whose_reward_exists"] += 1
            elif e.reward_source is RewardSource.MATCHED and (
                reward is None
                or reward.observation_id not in (None, d.observation_id)
                or (reward.reward, reward.decision_status) != (e.reward, e.decision_status)
            ):
                counts["experiences_with_another_ticks_reward"] += 1

    counts["decisions_trained_twice"] = sum(1 for n in Counter(trained).values() if n > 1)
    joined = {e.decision.decision_id for e in experiences}
    counts["experiences_never_trained"] = len(joined - set(trained))
    counts["trained_decisions_that_are_not_a_ticks_decision"] = len(set(trained) - canonical)
    counts["version_numbers_used_twice"] = sum(
        1 for n in Counter(v.version for v in versions).values() if n > 1
    )
    return Audit(
        observations=len(observations),
        decisions=len(decisions),
        experiences=len(experiences),
        versions=len(versions),
        trained=len(set(trained)),
        late_ticks=late,
        counts={k: counts.get(k, 0) for k in sorted(set(counts) | _ALWAYS)},
    )


_ALWAYS = {
    "observations_without_a_decision",
    "observations_rewarded_twice",
    "rewards_naming_a_decision_of_another_observation",
    "tick_decisions_without_an_experience",
    "decisions_with_conflicting_experiences",
    "duplicate_decisions_with_an_experience",
    "default_experiences_whose_reward_exists",
    "experiences_with_another_ticks_reward",
    "decisions_trained_twice",
    "experiences_never_trained",
    "trained_decisions_that_are_not_a_ticks_decision",
    "version_numbers_used_twice",
}
