"""Inference's handler (pure): a batch of Observations → one Decision each, or a rejection.

Validation (queen.state.validate_raw) → features → QueenNN with the served version → the
exploring policy (propensity) → the simulation gate for the observation's rules version.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from consumers.inference.model_slot import ModelSlot
from queen.errors import ObservationError
from queen.features import extract_features
from queen.gate import SimulationGate
from queen.policy import ExplorationPolicy
from queen.rules import N_TYPES, RULE_SETS, SPAWN_TYPES
from queen.state import TerritoryBatch, check_known
from runtime.loop import Incoming, Outgoing, Rejected
from schemas.enums import GateDecision, SpawnType
from schemas.records import Action, Decision

SPAWN_TYPE_ENUMS = tuple(SpawnType(name) for name in SPAWN_TYPES)


class InferenceHandler:
    """Turns observations into decisions with the model the slot serves."""

    def __init__(
        self,
        slot: ModelSlot,
        policy: ExplorationPolicy,
        decisions_topic: str,
        n_territories: int,
        gate_threshold: float = 0.0,
        metrics: Any = None,
    ) -> None:
        """Decide with `slot`'s model and `policy`; write to `decisions_topic`."""
        self.slot = slot
        self.policy = policy
        self.decisions_topic = decisions_topic
        self.n_territories = n_territories
        self.gates = {v: SimulationGate(r, gate_threshold) for v, r in RULE_SETS.items()}
        self.metrics = metrics

    def handle(self, batch: Sequence[Incoming], now: float) -> list[Outgoing | Rejected]:
        """Decide for every valid observation of the batch."""
        started = time.perf_counter()
        out: list[Outgoing | Rejected] = []
        valid: list[Incoming] = []
        for item in batch:
            obs = item.record  # the codec validated it against the contract already
            try:
                check_known(obs.territory_id, obs.rules_version, self.n_territories, self.gates)
            except ObservationError as exc:
                out.append(Rejected(item, exc))
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
        decided_at = time.time_ns() // 1000
        rows = features.tolist()
        out: list[Outgoing | Rejected] = []
        for i, obs in enumerate(records):
            action = int(chosen.actions[i])
            decision = Decision(
                decision_id=os.urandom(16).hex(),
                observation_id=obs.observation_id,
                territory_id=obs.territory_id,
                seq=obs.seq,
                event_time=obs.event_time,
                observation_emitted_at=obs.emitted_at,
                decided_at=decided_at,
                rules_version=obs.rules_version,
                model_version=served.version,
                features=tuple(rows[i]),
                action=Action(action // N_TYPES, SPAWN_TYPE_ENUMS[action % N_TYPES]),
                action_probability=float(chosen.propensity[i]),
                confidence=float(chosen.confidence[i]),
                gate_decision=GateDecision.SEND if send[i] else GateDecision.WAIT,
                expected_reward=float(expected[i]),
                gate_version=versions[obs.rules_version],
            )
            out.append(Outgoing(self.decisions_topic, obs.territory_id.encode(), decision))
            if self.metrics is not None:
                self.metrics.decisions.labels(gate=decision.gate_decision.value).inc()
                latency = (decided_at - obs.emitted_at) / 1e6
                self.metrics.decision_latency_seconds.observe(max(latency, 0.0))
        return out
