"""RuleSet: the game's rules as an event round-trip, and out-of-bound rules are refused."""

import dataclasses
import re

import pytest

from schemas.codec import AvroSingleObjectCodec
from schemas.errors import CorruptBody, InvalidRecord
from schemas.limits import Limits
from schemas.records import Observation, RuleSet
from tests import samples

CODEC = AvroSingleObjectCodec.default()


def test_a_rule_set_round_trips_with_every_number_intact():
    record = samples.rule_set(2, note="patch 2: soldiers nerfed, guards buffed")
    back = CODEC.decode(CODEC.encode(record), RuleSet)
    assert back == record
    assert back.same_rules(record)
    assert back.kill == (0.0, 0.2, 0.6, 0.9)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"rules_version": -1}, "rules_version"),
        ({"rules_version": 2**31}, "rules_version"),
        ({"cost": (4.0, 10.0, 3.0)}, "cost"),
        ({"cost": (4.0, 10.0, 3.0, 8.0, 1.0)}, "cost"),
        ({"upkeep": (0.0, -0.1, 0.0, 0.0)}, "upkeep[1]"),
        ({"harvest": (float("nan"), 0.0, 0.0, 0.0)}, "harvest[0]"),
        ({"income": (float("inf"), 0.0, 0.0, 0.0)}, "income[0]"),
        ({"cost": (1e7, 0.0, 0.0, 0.0)}, "cost[0]"),
        ({"kill": (0.0, 1.5, 0.0, 0.0)}, "kill[1]"),
        ({"heal": (0.0, 0.0, 0.0, 2.0)}, "heal[3]"),
        ({"publisher": ""}, "publisher"),
        ({"publisher": "p" * 129}, "publisher"),
        ({"note": "n" * 4001}, "note"),
        ({"published_at": -5}, "published_at"),
    ],
)
def test_out_of_bound_rules_are_refused_naming_the_field(changes, named):
    record = samples.rule_set(1, **changes)
    with pytest.raises(InvalidRecord, match=rf"RuleSet\.{re.escape(named)}="):
        CODEC.encode(record)


def test_the_bound_on_amounts_is_a_limit_setting():
    record = samples.rule_set(1, cost=(50.0, 10.0, 3.0, 12.0))
    record.validate()
    with pytest.raises(InvalidRecord, match=r"cost\[0\]"):
        record.validate(Limits(max_rule_value=20.0))


def test_rule_set_bytes_cut_short_or_read_as_another_type_are_refused():
    good = CODEC.encode(samples.rule_set(1))
    with pytest.raises(CorruptBody):
        CODEC.decode(good[:-3], RuleSet)
    with pytest.raises(InvalidRecord, match="cannot be read as"):
        CODEC.decode(good, Observation)


def test_same_rules_ignores_who_and_when_but_not_a_number():
    a = samples.rule_set(1)
    assert a.same_rules(dataclasses.replace(a, publisher="team", published_at=9, note="x"))
    assert not a.same_rules(dataclasses.replace(a, kill=(0.0, 0.9, 0.3, 0.35)))
    assert not a.same_rules(dataclasses.replace(a, rules_version=7))


@pytest.mark.parametrize("make", [samples.observation, samples.decision, samples.reward])
def test_a_negative_seq_is_refused_on_the_fast_path_too(make):
    """Found by the hostile suite once unknown rules stopped being dead-lettered: seq -2^63."""
    with pytest.raises(InvalidRecord, match=r"\.seq="):
        CODEC.encode(dataclasses.replace(make(), seq=-(2**63)))
