"""`python -m consumers.joiner`: decisions + rewards → experiences, in Kafka transactions."""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from consumers.joiner.handler import JoinHandler
from consumers.joiner.metrics import JoinerMetrics
from consumers.joiner.pending import PendingJoin
from runtime.kafka import make_transactional_producer
from runtime.loop import LoopConfig
from runtime.service import ServiceContext, service_parser
from runtime.settings import env_bool, env_float, env_int, env_str
from runtime.topics import DECISIONS, EXPERIENCES, REWARDS
from schemas.records import Decision, Reward


@dataclass(frozen=True)
class JoinerSettings:
    """The joiner's own settings (QUEEN_JOINER_*)."""

    group_id: str = "queen-joiner"
    reward_timeout_ms: int = 60_000  # 4 ticks of game time
    default_reward: float = 0.0  # reward of a decision whose reward never came
    drop_expired: bool = False  # True: drop (and count) expired decisions instead
    transactional: bool = True  # produce and commit in Kafka transactions
    transactional_id: str = ""  # default: queen-joiner-<hostname>
    # Experiences become visible to the trainer (read_committed) when the transaction commits:
    # this interval is added to freshness. 0.1 s is Kafka Streams' exactly-once default.
    commit_interval_s: float = 0.1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JoinerSettings:
        """Read the settings; bad values raise SettingsError naming them."""
        d = cls
        return cls(
            group_id=env_str(env, "QUEEN_JOINER_GROUP", d.group_id),
            reward_timeout_ms=env_int(
                env, "QUEEN_JOINER_REWARD_TIMEOUT_MS", d.reward_timeout_ms, minimum=0
            ),
            default_reward=env_float(env, "QUEEN_JOINER_DEFAULT_REWARD", d.default_reward),
            drop_expired=env_bool(env, "QUEEN_JOINER_DROP_EXPIRED", d.drop_expired),
            transactional=env_bool(env, "QUEEN_JOINER_TRANSACTIONAL", d.transactional),
            transactional_id=env_str(
                env, "QUEEN_JOINER_TRANSACTIONAL_ID", f"queen-joiner-{socket.gethostname()}"
            ),
            commit_interval_s=env_float(
                env, "QUEEN_JOINER_COMMIT_INTERVAL_S", d.commit_interval_s, minimum=0.01
            ),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the joiner until SIGTERM/SIGINT."""
    parser = service_parser(__doc__ or "")
    parser.add_argument("--transactional-id", help="QUEEN_JOINER_TRANSACTIONAL_ID")
    ctx = ServiceContext.create(
        "joiner", argv, parser, {"transactional_id": "QUEEN_JOINER_TRANSACTIONAL_ID"}
    )
    settings = JoinerSettings.from_env(ctx.environ)
    if settings.transactional:
        ctx.producer = make_transactional_producer(ctx.kafka, settings.transactional_id)
        ctx.dead_letters.producer = ctx.producer
    pending = PendingJoin(
        settings.reward_timeout_ms, None if settings.drop_expired else settings.default_reward
    )
    handler = JoinHandler(
        pending,
        ctx.kafka.topic(DECISIONS),
        ctx.kafka.topic(EXPERIENCES),
        JoinerMetrics.create(ctx.registry),
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
    sys.exit(main())
