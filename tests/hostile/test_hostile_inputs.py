"""Hostile input on every input topic of every service, through the real decode and handler path.

For each service, hypothesis mixes the service's valid traffic with hostile bytes (random,
mutations of valid encodings, schema-valid records at extreme values) and runs both the clean
traffic and the mixture through the real ServiceLoop and handler (Kafka faked). Properties:
no exception escapes; every input that does not decode is dead-lettered, at its offset, once;
nothing accepted is beyond the contract (checked by an independent walk of the values); and
the valid records come out exactly as they do in the clean run.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import load_schema
from schemas.errors import SchemaError
from tests.hostile.services import CODEC, SERVICES, tick, valid_inputs
from tests.hostile.strategies import extremes, mutations, random_bytes

TRIED: Counter[tuple[str, str]] = Counter()  # (service, kind) -> records tried
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "100"))  # more: a longer hunt


def hostile(
    service: str, valid: list[tuple[str, Any]]
) -> st.SearchStrategy[tuple[str, str, bytes]]:
    """(topic, kind, bytes) of one hostile input for `service`."""
    choices = []
    for i, (topic, record) in enumerate(valid[:6]):
        encoded = CODEC.encode(record)
        schema = load_schema(type(record))
        choices += [
            random_bytes.map(lambda b, t=topic: (t, "random", b)),
            mutations(encoded).map(lambda b, t=topic: (t, "mutated", b)),
            extremes(record, schema, i).map(lambda b, t=topic: (t, "extreme", b)),
        ]
    return st.one_of(choices)


def sane(value: Any) -> bool:
    """An independent bound on anything a service accepted: finite, short, small."""
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= 1e6
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -(2**53) <= value <= 2**53
    if isinstance(value, str):
        return len(value) <= 128
    if isinstance(value, bytes):
        return len(value) <= 16 * 1024 * 1024
    if isinstance(value, (list, tuple)):
        return len(value) <= 10_000 and all(sane(v) for v in value)
    if isinstance(value, dict):
        return len(value) <= 16 and all(sane(k) and sane(v) for k, v in value.items())
    return all(sane(getattr(value, f)) for f in value.__dataclass_fields__)


@pytest.mark.parametrize("name", SERVICES)
def test_hostile_records_never_crash_and_valid_ones_come_out_as_in_a_clean_run(name):
    service = SERVICES[name]
    valid = valid_inputs(name)
    clean_messages = [(topic, CODEC.encode(r)) for topic, r in valid]
    clean = service.run(clean_messages)
    assert clean.dead == [], "the valid traffic itself is clean"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        st.lists(hostile(name, valid), min_size=1, max_size=12), st.randoms(use_true_random=False)
    )
    def check(bad, rng):
        slots = sorted(rng.randrange(len(clean_messages) + 1) for _ in bad)
        mixed: list[tuple[str, bytes]] = []
        kinds: dict[int, str] = {}
        valid_iter = iter(clean_messages)
        position = 0
        for slot, (topic, kind, data) in zip(slots, bad, strict=True):
            while position < slot:
                mixed.append(next(valid_iter))
                position += 1
            kinds[len(mixed)] = kind
            mixed.append((topic, data))
        mixed.extend(valid_iter)
        for kind in kinds.values():
            TRIED[(name, kind)] += 1

        out = service.run(mixed, batch=rng.randint(1, 9))  # no exception may escape

        dead_offsets = [d.offset for d in out.dead]
        assert len(dead_offsets) == len(set(dead_offsets)), "a record dead-lettered twice"
        assert set(dead_offsets) <= set(kinds), "a valid record was dead-lettered"
        touched = set()  # keys of valid traffic that accepted hostile records claim (forgeries)
        for offset in kinds:
            topic, data = mixed[offset]
            try:
                record = CODEC.decode(data, service.inputs[topic])
            except SchemaError:
                assert offset in dead_offsets, f"undecodable input at {offset} not dead-lettered"
                continue
            if offset not in dead_offsets:
                assert sane(record), f"accepted beyond the contract: {record!r}"[:300]
                touched.add(service.claim(record))
        assert valid_output(name, clean, touched) == valid_output(name, out, touched)

    check()
    tried = {k: v for (s, k), v in TRIED.items() if s == name}
    print(f"\n{name}: hostile records tried by kind {tried}, crashes 0")


def valid_output(name: str, outcome: Any, touched: set) -> Any:
    """The output of the valid traffic, leaving out ticks hostile records claimed.

    A hostile record that decodes into a valid one for a real tick is a forgery: the loop
    cannot tell it from the real one, and keeping strangers from writing the topics is the
    ACLs' job (docs/security.md). Everything else must come out exactly as in the clean run.
    """
    from schemas.records import Decision, Experience

    if name == "inference":
        decisions = [CODEC.decode(v, Decision) for v in outcome.produced.get("decisions", [])]
        return Counter(
            (d.observation_id, d.features, d.action, d.gate_decision)
            for d in decisions
            if tick(d) not in touched
        )
    if name == "joiner":
        experiences = [CODEC.decode(v, Experience) for v in outcome.produced.get("experiences", [])]
        return sorted(
            (tick(e), e.decision.decision_id, e.reward, e.reward_source)
            for e in experiences
            if tick(e) not in touched
        )
    return [d for claim, d in outcome.taken if claim not in touched]
