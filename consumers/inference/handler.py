"""Inference's handler (pure): a batch of Observations → one Decision each.

Features → QueenNN with the served version → the exploring policy (propensity) → the
simulation gate for the observation's rules version, loaded from the rule book
(runtime/rule_book.py, fed by `queen.rules`). Territory ids are opaque: any id the contract
allows is decided for (the codec checked the contract already).

An observation whose rules version the book does not know yet is never dead-lettered for it:
it waits in the waiting room (consumers/inference/waiting.py) up to `rules_wait_s` while the
rest of its batch is decided at once, and is decided when the book learns the version (checked
on every batch and every tick, 50 ms), or when its wait is over, under `unknown_rules`:
"wait" (the default) decides WAIT (expected reward 0, gate version `no-rules-r<version>`):
the gate cannot simulate rules it does not know, and waiting is the action that spends
nothing; "newest" gates it under the newest rules known (WAIT when none is). Either way it is
counted (queen_inference_unknown_rules_total{outcome="policy"}). The wall clock and the
decision ids come from injected sources, so a test fixes both.

With `shadow` on, the slot's candidate (read once per batch, after the served model) scores
the same features and each Decision logs it as `shadow` (consumers/inference/shadow.py); it
never changes the served decision.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from typing_extensions import override

from consumers.inference.model_slot import ModelSlot, Served
from consumers.inference.shadow import ShadowScores, candidate_of, score
from consumers.inference.waiting import WaitingRoom
from queen.features import extract_features
from queen.gate import SimulationGate
from queen.policy import ExplorationPolicy
from queen.rules import N_CHUNKS, N_TYPES, RULE_SETS, SPAWN_TYPES
from queen.state import TerritoryBatch
from runtime.handler import Handler, Incoming, Outgoing, Position, Rejected
from runtime.rule_book import RuleBook
from schemas.enums import GateDecision, SpawnType
from schemas.records import Action, Decision

SPAWN_TYPE_ENUMS = tuple(SpawnType(name) for name in SPAWN_TYPES)
# the joint action index a → Action (records are immutable, so one object per action is shared)
ACTIONS = tuple(
    Action(a // N_TYPES, SPAWN_TYPE_ENUMS[a % N_TYPES]) for a in range(N_CHUNKS * N_TYPES)
)
UNKNOWN_POLICIES = ("wait", "newest")
NO_GATE = -1  # a row decided WAIT under the unknown-rules policy, gated by nothing


def random_ids(n: int) -> list[str]:
    """`n` fresh decision ids: 32 hex digits of os.urandom each."""
    text = os.urandom(16 * n).hex()
    return [text[32 * i : 32 * i + 32] for i in range(n)]


def wall_clock_us() -> int:
    """Microseconds since the Unix epoch, now."""
    return time.time_ns() // 1000


class InferenceHandler(Handler):
    """Turns observations into decisions with the model the slot serves."""

    def __init__(
        self,
        slot: ModelSlot,
        policy: ExplorationPolicy,
        decisions_topic: str,
        gate_threshold: float = 0.0,
        metrics: Any = None,
        wall_us: Callable[[], int] = wall_clock_us,
        new_ids: Callable[[int], list[str]] = random_ids,
        book: RuleBook | None = None,
        rules_wait_s: float = 2.0,
        unknown_rules: str = "wait",
        shadow: bool = True,
    ) -> None:
        """Decide with `slot`'s model and `policy`; write to `decisions_topic`.

        `book` holds the rule sets the gate simulates (None: the simulator's built-ins, for
        tests and tools); `rules_wait_s` and `unknown_rules` as the module says; `shadow`:
        score the slot's candidate beside the served model (QUEEN_INFERENCE_SHADOW).
        """
        if unknown_rules not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown_rules={unknown_rules!r}: one of {UNKNOWN_POLICIES}")
        self.slot = slot
        self.policy = policy
        self.decisions_topic = decisions_topic
        self.gate_threshold = gate_threshold
        self.book = book if book is not None else RuleBook.of(RULE_SETS)
        self.gates: dict[int, SimulationGate] = {}  # by rules version (rule sets never change)
        self.waiting = WaitingRoom(rules_wait_s, capacity=10_000)
        self.unknown_rules = unknown_rules
        self.metrics = metrics
        self.wall_us = wall_us
        self.new_ids = new_ids
        self.shadow = shadow
        self.served_version = -1  # the version of the last batch decided
        self._gated: set[int] = set()  # rules versions a decision was gated under already

    @override
    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing | Rejected]:
        """Decide every observation whose rules are known; the others wait for theirs."""
        started = time.perf_counter()
        known = self.book.known.rules
        ready: list[Incoming] = []
        for item in batch:  # the codec validated each against the contract already
            if item.record.rules_version in known:
                ready.append(item)
            else:
                self.waiting.park(item, now)
        self._count_waiting()
        out = self._released(now)
        if ready:
            out.extend(self._decide(ready, []))
            if self.metrics is not None:
                self.metrics.inference_seconds.observe(time.perf_counter() - started)
        return out

    @override
    def on_tick(self, now: float) -> list[Outgoing]:
        """Decide the waiting observations whose rules came, or whose wait is over."""
        return [o for o in self._released(now) if isinstance(o, Outgoing)]

    @override
    def commit_positions(self, positions: dict[Position, int]) -> dict[Position, int]:
        """Commit no further than the oldest observation still waiting, per partition."""
        for position, floor in self.waiting.floors().items():
            if position in positions:
                positions[position] = min(positions[position], floor)
        return positions

    @override
    def on_revoke(self, partitions: Sequence[Position]) -> None:
        """Leave the waiting observations of revoked partitions to their next owner."""
        self.waiting.drop(partitions)
        self._count_waiting()

    def _released(self, now: float) -> list[Outgoing | Rejected]:
        if not self.waiting.held:
            return []
        learnt, over = self.waiting.due(self.book.known.rules, now)
        if not learnt and not over:
            return []
        out = self._decide(learnt, over)  # raises: they stay held, and the next call retries
        self.waiting.remove(learnt + over)
        self._count_waiting()
        if self.metrics is not None:
            self.metrics.unknown_rules.labels(outcome="learnt").inc(len(learnt))
            self.metrics.unknown_rules.labels(outcome="policy").inc(len(over))
        return out

    def _count_waiting(self) -> None:
        if self.metrics is not None:
            self.metrics.waiting_for_rules.set(len(self.waiting))

    def _gate(self, version: int) -> SimulationGate | None:
        gate = self.gates.get(version)
        if gate is None:
            rules = self.book.get(version)
            if rules is None:
                return None
            gate = self.gates[version] = SimulationGate(rules, self.gate_threshold)
        return gate

    def _policy_gate(self) -> int:
        """The rules version an observation of unknown rules is gated under (NO_GATE: none)."""
        newest = self.book.known.newest
        return newest.version if self.unknown_rules == "newest" and newest else NO_GATE

    def _decide(self, items: list[Incoming], unknown: list[Incoming]) -> list[Outgoing | Rejected]:
        """Decide `items` under their own rules and `unknown` under the policy."""
        records = [item.record for item in items + unknown]
        features = extract_features(TerritoryBatch.from_rows(records))
        served = self.slot.current  # read once: a swap mid-batch cannot mix versions
        chosen = self.policy.infer(served.model, features)
        gated = [r.rules_version for r in records[: len(items)]]
        rules = np.array(gated + [self._policy_gate()] * len(unknown), np.int64)
        send = np.zeros(len(records), dtype=bool)
        expected = np.zeros(len(records))
        versions = {}
        for version in np.unique(rules):
            gate = self._gate(int(version)) if version != NO_GATE else None
            if gate is None:  # no gate: WAIT, as set above
                continue
            rows = rules == version
            verdict = gate.evaluate(features[rows], chosen.actions[rows], chosen.confidence[rows])
            send[rows], expected[rows] = verdict.send, verdict.expected_reward
            versions[int(version)] = verdict.gate_version
        shadows = self._shadow(served, features, chosen.values)
        decided_at = self.wall_us()
        ids = self.new_ids(len(records))
        verdicts = [GateDecision.SEND if s else GateDecision.WAIT for s in send.tolist()]
        columns = zip(
            records,
            features.tolist(),
            chosen.actions.tolist(),
            chosen.propensity.tolist(),
            chosen.confidence.tolist(),
            verdicts,
            expected.tolist(),
            strict=True,
        )
        out: list[Outgoing | Rejected] = []
        gate_versions = [
            versions.get(v, f"no-rules-r{obs.rules_version}")
            for v, obs in zip(rules.tolist(), records, strict=True)
        ]
        for i, (obs, row, action, propensity, confidence, verdict, reward) in enumerate(columns):
            decision = Decision(
                decision_id=ids[i],
                observation_id=obs.observation_id,
                territory_id=obs.territory_id,
                seq=obs.seq,
                event_time=obs.event_time,
                observation_emitted_at=obs.emitted_at,
                decided_at=decided_at,
                rules_version=obs.rules_version,
                model_version=served.version,
                features=tuple(row),
                action=ACTIONS[action],
                action_probability=propensity,
                confidence=confidence,
                gate_decision=verdict,
                expected_reward=reward,
                gate_version=gate_versions[i],
                epoch=obs.epoch,
                shadow=None if shadows is None else shadows.shadows[i],
            )
            out.append(Outgoing(self.decisions_topic, obs.territory_id.encode(), decision))
        if self.metrics is not None:
            self._count(send, decided_at, records)
            self._first_gated(set(gated), decided_at)
            if served.version != self.served_version:
                fresh = np.asarray(self.slot.take_first_use(served.version), np.int64)
                self.metrics.reward_to_serving_seconds.observe_many((decided_at - fresh) / 1e6)
        self.served_version = served.version
        return out

    def _shadow(
        self, served: Served, features: np.ndarray, served_values: np.ndarray
    ) -> ShadowScores | None:
        """The candidate's scores of this batch, or None (shadow off, or no candidate)."""
        candidate = candidate_of(served, self.slot.candidate) if self.shadow else None
        scores = None
        if candidate is not None:
            scores = score(candidate, features, served_values, self.policy.config, ACTIONS)
        if self.metrics is not None:
            self.metrics.shadow_version.set(-1 if scores is None else scores.version)
            self.metrics.shadow_agreement.set(np.nan if scores is None else scores.agreement)
        return scores

    def _first_gated(self, versions: set[int], decided_at: int) -> None:
        """Observe, once per rules version, the seconds from its publication to this decision."""
        for version in versions - self._gated:
            self._gated.add(version)
            record = self.book.known.records.get(version)
            if record is not None and record.published_at > 0:  # built-ins carry 0
                seconds = max(0, decided_at - record.published_at) / 1e6
                self.metrics.rules_to_decision_seconds.observe(seconds)

    def _count(self, send: np.ndarray, decided_at: int, records: list[Any]) -> None:
        sent = int(send.sum())
        self.metrics.decisions.labels(gate="SEND").inc(sent)
        self.metrics.decisions.labels(gate="WAIT").inc(len(send) - sent)
        emitted = np.fromiter((obs.emitted_at for obs in records), np.int64, len(records))
        latency = np.maximum((decided_at - emitted) / 1e6, 0.0)
        self.metrics.decision_latency_seconds.observe_many(latency)
