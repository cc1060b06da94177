"""Inference's handler (pure): a batch of Observations → one Decision each, or a rejection.

Domain checks (queen.state.check_known: a rules version the gate knows; the codec checked the
contract already) → features → QueenNN with the served version → the exploring policy
(propensity) → the simulation gate for the observation's rules version. Territory ids are
opaque: any id the contract allows is decided for. The wall clock and the decision ids come
from injected sources, so a test fixes both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from typing_extensions import override

from consumers.inference.model_slot import ModelSlot
from queen.errors import ObservationError
from queen.features import extract_features
from queen.gate import SimulationGate
from queen.policy import ExplorationPolicy
from queen.rules import N_CHUNKS, N_TYPES, RULE_SETS, SPAWN_TYPES
from queen.state import TerritoryBatch, check_known
from runtime.handler import Handler, Incoming, Outgoing, Rejected
from schemas.enums import GateDecision, SpawnType
from schemas.records import Action, Decision

SPAWN_TYPE_ENUMS = tuple(SpawnType(name) for name in SPAWN_TYPES)
# the joint action index a → Action (records are immutable, so one object per action is shared)
ACTIONS = tuple(
    Action(a // N_TYPES, SPAWN_TYPE_ENUMS[a % N_TYPES]) for a in range(N_CHUNKS * N_TYPES)
)


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
    ) -> None:
        """Decide with `slot`'s model and `policy`; write to `decisions_topic`."""
        self.slot = slot
        self.policy = policy
        self.decisions_topic = decisions_topic
        self.gates = {v: SimulationGate(r, gate_threshold) for v, r in RULE_SETS.items()}
        self.metrics = metrics
        self.wall_us = wall_us
        self.new_ids = new_ids
        self.served_version = -1  # the version of the last batch decided

    @override
    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing | Rejected]:
        """Decide for every valid observation of the batch."""
        started = time.perf_counter()
        out: list[Outgoing | Rejected] = []
        valid: list[Incoming] = []
        for item in batch:
            obs = item.record  # the codec validated it against the contract already
            try:
                check_known(obs.rules_version, self.gates)
            except ObservationError as exc:
                out.append(Rejected(item, exc, reason="unknown_rules"))
                continue
            valid.append(item)
        if valid:
            out.extend(self._decide(valid))
            if self.metrics is not None:
                self.metrics.inference_seconds.observe(time.perf_counter() - started)
        return out

    def _decide(self, items: list[Incoming]) -> list[Outgoing | Rejected]:
        records = [item.record for item in items]
        features = extract_features(TerritoryBatch.from_rows(records))
        served = self.slot.current  # read once: a swap mid-batch cannot mix versions
        chosen = self.policy.infer(served.model, features)
        rules = np.fromiter((r.rules_version for r in records), np.int64, len(records))
        send = np.zeros(len(records), dtype=bool)
        expected = np.zeros(len(records))
        versions = {}
        for version in np.unique(rules):
            rows = rules == version
            gate = self.gates[int(version)]
            verdict = gate.evaluate(features[rows], chosen.actions[rows], chosen.confidence[rows])
            send[rows], expected[rows] = verdict.send, verdict.expected_reward
            versions[int(version)] = verdict.gate_version
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
                gate_version=versions[obs.rules_version],
                epoch=obs.epoch,
            )
            out.append(Outgoing(self.decisions_topic, obs.territory_id.encode(), decision))
        if self.metrics is not None:
            self._count(send, decided_at, records)
            if served.version != self.served_version:
                fresh = np.asarray(self.slot.take_first_use(served.version), np.int64)
                self.metrics.reward_to_serving_seconds.observe_many((decided_at - fresh) / 1e6)
        self.served_version = served.version
        return out

    def _count(self, send: np.ndarray, decided_at: int, records: list[Any]) -> None:
        sent = int(send.sum())
        self.metrics.decisions.labels(gate="SEND").inc(sent)
        self.metrics.decisions.labels(gate="WAIT").inc(len(send) - sent)
        emitted = np.fromiter((obs.emitted_at for obs in records), np.int64, len(records))
        latency = np.maximum((decided_at - emitted) / 1e6, 0.0)
        self.metrics.decision_latency_seconds.observe_many(latency)
