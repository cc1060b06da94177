"""`python -m producers.game`: the simulated world as a Kafka service on an accelerable clock."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_END, TopicPartition

from producers.game.metrics import GameMetrics
from producers.game.service import GameService, GameTopics
from queen.world import World, WorldConfig
from runtime.health import Heartbeat
from runtime.kafka import make_reader
from runtime.service import ServiceContext, service_parser
from runtime.settings import env_float, env_int
from runtime.topics import DECISIONS, OBSERVATIONS, REWARDS


@dataclass(frozen=True)
class GameSettings:
    """The game's settings (QUEEN_GAME_*, QUEEN_TERRITORIES)."""

    speed: float = 1.0  # game seconds per wall second; 1 = real time (a tick every 15 s)
    territories: int = 64
    seed: int = 0
    rule_switch_tick: int = -1  # tick of patch day; -1: never
    ticks: int = 0  # stop after this many ticks; 0: play until stopped

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GameSettings:
        """Read the settings; bad values raise SettingsError naming them."""
        d = cls
        return cls(
            speed=env_float(env, "QUEEN_GAME_SPEED", d.speed, minimum=0.001),
            territories=env_int(env, "QUEEN_TERRITORIES", d.territories, minimum=1),
            seed=env_int(env, "QUEEN_GAME_SEED", d.seed),
            rule_switch_tick=env_int(
                env, "QUEEN_GAME_RULE_SWITCH_TICK", d.rule_switch_tick, minimum=-1
            ),
            ticks=env_int(env, "QUEEN_GAME_TICKS", d.ticks, minimum=0),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Play until SIGTERM/SIGINT or the tick budget."""
    parser = service_parser(__doc__ or "")
    for flag, help_ in (
        ("--speed", "QUEEN_GAME_SPEED"),
        ("--territories", "QUEEN_TERRITORIES"),
        ("--seed", "QUEEN_GAME_SEED"),
        ("--rule-switch-tick", "QUEEN_GAME_RULE_SWITCH_TICK"),
        ("--ticks", "QUEEN_GAME_TICKS"),
    ):
        parser.add_argument(flag, help=help_)
    ctx = ServiceContext.create(
        "game",
        argv,
        parser,
        {
            "speed": "QUEEN_GAME_SPEED",
            "territories": "QUEEN_TERRITORIES",
            "seed": "QUEEN_GAME_SEED",
            "rule_switch_tick": "QUEEN_GAME_RULE_SWITCH_TICK",
            "ticks": "QUEEN_GAME_TICKS",
        },
    )
    settings = GameSettings.from_env(ctx.environ)
    switch = settings.rule_switch_tick if settings.rule_switch_tick >= 0 else None
    world = World(WorldConfig(settings.territories, settings.seed, switch))
    decisions_topic = ctx.kafka.topic(DECISIONS)
    reader = make_reader(ctx.kafka)
    partitions = reader.list_topics(decisions_topic, timeout=10).topics[decisions_topic].partitions
    # Only decisions made from now on matter: start at the end of every partition.
    reader.assign([TopicPartition(decisions_topic, p, OFFSET_END) for p in partitions])
    topics = GameTopics(ctx.kafka.topic(OBSERVATIONS), ctx.kafka.topic(REWARDS), decisions_topic)
    game = GameService(
        world,
        ctx.producer,
        reader,
        ctx.codec,
        topics,
        settings.speed,
        GameMetrics.create(ctx.registry),
    )
    heartbeat = Heartbeat(ctx.service.heartbeat_file)
    try:
        game.run(ctx.stop, settings.ticks or None, heartbeat.beat)
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
