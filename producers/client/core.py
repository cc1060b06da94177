"""The game side of the protocol, without I/O: records, numbering, and the decision ledger.

Both the game-side client (producers/client/sync.py) and the simulated game
(producers/game) build their Observations and Rewards here and judge every Decision they read
with a `Ledger`, so there is one way for a game to talk to the loop:

- an Observation carries the game's `epoch` (this run of the game) and the territory's `seq`
  in it; a Reward names the observation and the decision the game acted on (or none);
- the first Decision answering an open observation (by observation_id) is the one acted on;
  a second one is a duplicate, one arriving after its observation was closed unanswered is
  late, one answering no observation of ours (another game, another epoch, a forgery) is
  unknown.
"""

from __future__ import annotations

import enum
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.enums import DecisionStatus, GateDecision
from schemas.records import Action, Decision, Observation, Reward


def new_id() -> str:
    """A fresh id (UUID hex) for an observation or an epoch."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class TerritoryState:
    """What the game knows of one territory at a tick: an Observation without its numbering."""

    territory_id: str
    rules_version: int
    resources: float
    income: float
    upkeep: float
    base_health: float
    units_lost: int
    chunk_threat: tuple[float, ...]
    chunk_units: tuple[int, ...]
    unit_counts: tuple[int, ...]
    new_threat: tuple[float, ...] = ()


def observation_of(
    state: TerritoryState,
    *,
    observation_id: str,
    seq: int,
    epoch: str,
    event_time: int,
    emitted_at: int,
) -> Observation:
    """The Observation of `state` at tick `seq` of `epoch` (event_time ms, emitted_at µs)."""
    return Observation(
        observation_id=observation_id,
        territory_id=state.territory_id,
        seq=seq,
        event_time=event_time,
        emitted_at=emitted_at,
        rules_version=state.rules_version,
        resources=state.resources,
        income=state.income,
        upkeep=state.upkeep,
        base_health=state.base_health,
        units_lost=state.units_lost,
        chunk_threat=tuple(state.chunk_threat),
        chunk_units=tuple(state.chunk_units),
        unit_counts=tuple(state.unit_counts),
        new_threat=tuple(state.new_threat),
        epoch=epoch,
    )


def status_of(decision: Decision | None) -> DecisionStatus:
    """What the game did with the decision it acted on: applied (SEND), waited, or missing."""
    if decision is None:
        return DecisionStatus.MISSING
    if decision.gate_decision is GateDecision.SEND:
        return DecisionStatus.APPLIED
    return DecisionStatus.WAITED


def reward_of(
    observation: Observation,
    decision: Decision | None,
    *,
    reward: float,
    components: Mapping[str, float],
    event_time: int,
    emitted_at: int,
    rules_version: int,
) -> Reward:
    """The Reward of the tick `observation` opened, naming it and the decision acted on.

    `event_time` (ms) is when the outcome was observed (the next tick); `decision` None means
    the game acted on no decision of the loop (none came in time: a fallback).
    """
    return Reward(
        observation.territory_id,
        observation.seq,
        event_time,
        emitted_at,
        rules_version,
        reward,
        dict(components),
        None if decision is None else decision.decision_id,
        status_of(decision),
        observation.epoch,
        observation.observation_id,
    )


class Numbering:
    """The seq of each territory in one epoch: 0, 1, 2, ... per territory."""

    def __init__(self, epoch: str | None = None) -> None:
        """Number ticks in `epoch` (None: a fresh one)."""
        self.epoch = epoch or new_id()[:16]
        self._next: dict[str, int] = {}

    def next_seq(self, territory_id: str) -> int:
        """The seq of the territory's next tick."""
        seq = self._next.get(territory_id, 0)
        self._next[territory_id] = seq + 1
        return seq


class Verdict(enum.StrEnum):
    """What a Decision is to the game that reads it."""

    ACCEPTED = "accepted"  # the first answering an open observation: act on it
    DUPLICATE = "duplicate"  # its observation already has a decision
    LATE = "late"  # its observation was closed without one (its deadline passed)
    UNKNOWN = "unknown"  # answers no observation this game opened (recently)


class Ledger:
    """Open observations and the decisions answering them, by observation_id.

    `open` an observation before publishing it; `offer` every decision read; `close` an
    observation when the game stops waiting (its decision taken, or its deadline passed).
    Closed observations are remembered (up to `remember`, oldest forgotten first) so that a
    decision for one is judged a duplicate or late, not unknown. Not thread-safe: the caller
    holds its lock around every call.
    """

    def __init__(self, remember: int = 100_000) -> None:
        """Remember at most `remember` closed observations."""
        self.remember = remember
        self.open_ids: dict[str, Decision | None] = {}
        self._closed: OrderedDict[str, bool] = OrderedDict()  # id -> it had a decision
        self.counts: dict[Verdict, int] = dict.fromkeys(Verdict, 0)

    def open(self, observation_id: str) -> None:
        """Start waiting for the decision answering `observation_id`."""
        self.open_ids.setdefault(observation_id, None)

    def offer(self, decision: Decision) -> Verdict:
        """Judge a decision read from the decisions topic; keep it when it is accepted."""
        oid = decision.observation_id
        if oid in self.open_ids:
            if self.open_ids[oid] is None:
                self.open_ids[oid] = decision
                verdict = Verdict.ACCEPTED
            else:
                verdict = Verdict.DUPLICATE
        elif oid in self._closed:
            verdict = Verdict.DUPLICATE if self._closed[oid] else Verdict.LATE
        else:
            verdict = Verdict.UNKNOWN
        self.counts[verdict] += 1
        return verdict

    def decision(self, observation_id: str) -> Decision | None:
        """The decision accepted for an open observation, if any yet."""
        return self.open_ids.get(observation_id)

    def close(self, observation_id: str) -> Decision | None:
        """Stop waiting; return the decision accepted for it (None: a later one is late)."""
        decision = self.open_ids.pop(observation_id, None)
        self.forget_as(observation_id, answered=decision is not None)
        return decision

    def forget_as(self, observation_id: str, *, answered: bool) -> None:
        """Remember `observation_id` as closed (answered or not)."""
        self._closed[observation_id] = answered
        self._closed.move_to_end(observation_id)
        while len(self._closed) > self.remember:
            self._closed.popitem(last=False)


class Fallback(enum.StrEnum):
    """What the game does when no decision came before the deadline."""

    WAIT = "wait"  # spawn nothing this tick
    LAST_ACTION = "last_action"  # repeat the last action served for the territory (else WAIT)


@dataclass(frozen=True, slots=True)
class Served:
    """What the game acts on for one observation.

    `decision` is the loop's decision, or None when the deadline passed (`fallback` then names
    why). Apply `action` when `send` is true; report the tick's outcome with this object.
    """

    observation: Observation
    decision: Decision | None
    action: Action | None
    send: bool
    fallback: str | None = None  # None: the loop's decision; else the fallback's reason


def serve(
    observation: Observation,
    decision: Decision | None,
    policy: Fallback,
    last: Action | None,
    reason: str,
) -> Served:
    """What to act on: the decision, or (None) the fallback `policy` with `last` served."""
    if decision is not None:
        return Served(
            observation, decision, decision.action, decision.gate_decision is GateDecision.SEND
        )
    if policy is Fallback.LAST_ACTION and last is not None:
        return Served(observation, None, last, True, reason)
    return Served(observation, None, None, False, reason)


def tick_ledger(
    observation_ids: Sequence[str], earlier: frozenset[str], remember: int = 100_000
) -> Ledger:
    """A ledger with one tick's observations open and the earlier ticks' closed unanswered."""
    ledger = Ledger(remember)
    for oid in earlier:
        ledger.forget_as(oid, answered=False)
    for oid in observation_ids:
        ledger.open(oid)
    return ledger
