"""`python -m producers.game`: the simulated world as a Kafka service on an accelerable clock."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence

from producers.game.handler import GameHandler, GameTopics
from producers.game.metrics import GameMetrics
from producers.game.rules import RulesAnnouncer
from producers.game.settings import GameSettings
from queen.world import World, WorldConfig
from runtime.loop import LoopConfig
from runtime.rule_signing import rules_signer
from runtime.service import ServiceContext, run_service, service_parser
from runtime.topics import DEAD_LETTERS, DECISIONS, OBSERVATIONS, REWARDS, RULES
from schemas.records import Decision

FLAGS = {
    "speed": "QUEEN_GAME_SPEED",
    "territories": "QUEEN_TERRITORIES",
    "seed": "QUEEN_GAME_SEED",
    "rule_switch_tick": "QUEEN_GAME_RULE_SWITCH_TICK",
    "ticks": "QUEEN_GAME_TICKS",
    "epoch": "QUEEN_GAME_EPOCH",
    "match_churn": "QUEEN_GAME_MATCH_CHURN",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Play until SIGTERM/SIGINT or the tick budget."""
    parser = service_parser("producers.game", __doc__ or "", FLAGS, ("producers.game.settings",))
    ctx = ServiceContext.create(
        "game", argv, parser, FLAGS, (OBSERVATIONS, REWARDS, DECISIONS, RULES, DEAD_LETTERS)
    )
    settings = GameSettings.from_env(ctx.environ)
    switch = settings.rule_switch_tick if settings.rule_switch_tick >= 0 else None
    world = World(
        WorldConfig(settings.territories, settings.seed, switch, match_churn=settings.match_churn)
    )
    epoch = settings.epoch or uuid.uuid4().hex[:16]
    handler = GameHandler(
        world,
        GameTopics(ctx.kafka.topic(OBSERVATIONS), ctx.kafka.topic(REWARDS)),
        settings.speed,
        epoch,
        GameMetrics.create(ctx.registry),
        ticks=settings.ticks or None,
        on_done=ctx.stop.set,
        rules=RulesAnnouncer(
            ctx.kafka.topic(RULES), key=rules_signer(settings.rules_signing_key_file)
        ),
    )
    tick_wall = 15.0 / settings.speed
    # Decisions are read from the end of every partition, with no group: only decisions made
    # from now on can answer this run's observations.
    loop = ctx.loop(
        None,
        {ctx.kafka.topic(DECISIONS): Decision},
        handler,
        LoopConfig(poll_timeout=0.01, tick_interval=min(0.05, tick_wall / 20)),
    )
    loop.run(ctx.stop)
    return 0


if __name__ == "__main__":
    sys.exit(run_service(main))
