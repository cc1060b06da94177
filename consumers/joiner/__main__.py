"""`python -m consumers.joiner`: decisions + rewards → experiences, in Kafka transactions."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from consumers.joiner.handler import JoinHandler
from consumers.joiner.metrics import JoinerMetrics
from consumers.joiner.pending import PendingJoin
from consumers.joiner.settings import JoinerSettings
from runtime.event_clock import EventClocks
from runtime.kafka import make_transactional_producer
from runtime.loop import LoopConfig
from runtime.service import ServiceContext, run_service, service_parser
from runtime.settings import EventTimeSettings
from runtime.topics import DEAD_LETTERS, DECISIONS, EXPERIENCES, REWARDS
from schemas.records import Decision, Reward

FLAGS = {"transactional_id": "QUEEN_JOINER_TRANSACTIONAL_ID"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the joiner until SIGTERM/SIGINT."""
    parser = service_parser(
        "consumers.joiner", __doc__ or "", FLAGS, ("consumers.joiner.settings",)
    )
    ctx = ServiceContext.create(
        "joiner",
        argv,
        parser,
        FLAGS,
        (DECISIONS, REWARDS, EXPERIENCES, DEAD_LETTERS),
    )
    settings = JoinerSettings.from_env(ctx.environ)
    skew = EventTimeSettings.from_env(ctx.environ).limits()
    if settings.transactional:
        ctx.producer = make_transactional_producer(ctx.kafka, settings.transactional_id)
        ctx.dead_letters.producer = ctx.producer
    pending = PendingJoin(
        settings.reward_timeout_ms,
        None if settings.drop_expired else settings.default_reward,
        settings.join_limits(),
    )
    handler = JoinHandler(
        pending,
        ctx.kafka.topic(DECISIONS),
        ctx.kafka.topic(EXPERIENCES),
        JoinerMetrics.create(ctx.registry),
        EventClocks(skew),
    )
    loop = ctx.loop(
        settings.group_id,
        {ctx.kafka.topic(DECISIONS): Decision, ctx.kafka.topic(REWARDS): Reward},
        handler,
        LoopConfig(
            commit_interval=settings.commit_interval_s, transactional=settings.transactional
        ),
    )
    loop.run(ctx.stop)
    return 0


if __name__ == "__main__":
    sys.exit(run_service(main))
