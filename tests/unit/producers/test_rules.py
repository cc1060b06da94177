"""The game publishes each rule set it plays ahead of its observations; the CLI's input."""

import json

import pytest

from producers.game.handler import GameHandler, GameTopics
from producers.game.rules import RulesAnnouncer
from producers.rules.__main__ import main, rule_set_of
from queen.rules import RULES_V1, RULES_V2
from queen.world import World, WorldConfig
from runtime.rule_book import rules_key, rules_of
from schemas.records import Observation, RuleSet


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_game_publishes_its_rules_at_start_and_the_patch_before_its_first_observation():
    clock = Clock()
    handler = GameHandler(
        World(WorldConfig(3, seed=1, rule_switch_tick=2)),
        GameTopics("obs", "rew"),
        speed=15.0,
        epoch="e1",
        clock=clock,
        wall_us=lambda: 1_700_000_000_000_000,
        rules=RulesAnnouncer("rules", wall_us=lambda: 1_700_000_000_000_000),
    )
    published = []
    first_observation = {}
    for tick in range(4):
        out = handler.on_tick(clock.now)
        for i, o in enumerate(out):
            if isinstance(o.record, RuleSet):
                assert o.topic == "rules" and o.key == rules_key(o.record.rules_version)
                published.append((tick, i, rules_of(o.record)))
            elif isinstance(o.record, Observation):
                first_observation.setdefault(o.record.rules_version, (tick, i))
        clock.now += 1.0
    assert [(tick, rules) for tick, _, rules in published] == [(0, RULES_V1), (2, RULES_V2)]
    for tick, index, rules in published:  # in the same output, ahead of its observations
        assert first_observation[rules.version][0] == tick
        assert first_observation[rules.version][1] > index


def test_the_cli_builds_a_checked_rule_set_from_json():
    data = {
        "rules_version": 3,
        "publisher": "balance-team",
        "cost": [4, 10, 3, 9],
        "upkeep": [0.05, 0.15, 0.05, 0.2],
        "kill": [0, 0.2, 0.6, 0.9],
        "harvest": [5, 0, 2, 0],
        "income": [0.3, 0, 0, 0],
        "heal": [0, 0, 0, 0.1],
    }
    record = rule_set_of(data, 7)
    record.validate()
    assert (record.rules_version, record.published_at, record.cost[3]) == (3, 7, 9)
    with pytest.raises(ValueError, match="missing field.*heal"):
        rule_set_of({k: v for k, v in data.items() if k != "heal"}, 7)
    with pytest.raises(ValueError, match="unknown field.*armour"):
        rule_set_of({**data, "armour": [1, 1, 1, 1]}, 7)


def test_the_cli_refuses_an_out_of_bound_file_before_connecting(tmp_path, capsys):
    path = tmp_path / "patch.json"
    path.write_text(
        json.dumps(
            {"rules_version": 3, "cost": [4, 10, 3], "upkeep": [0] * 4, "kill": [0] * 4}
            | {"harvest": [0] * 4, "income": [0] * 4, "heal": [0] * 4}
        )
    )
    assert main(["publish", str(path)]) == 2
    assert "RuleSet.cost" in capsys.readouterr().err
