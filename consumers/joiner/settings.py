"""The joiner's settings (QUEEN_JOINER_*), read once in main."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from consumers.joiner.pending import JoinLimits
from runtime.settings import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class JoinerSettings:
    """The joiner's own settings (QUEEN_JOINER_*)."""

    group_id: str = "queen-joiner"  # consumer group (and the transactions' offsets)
    reward_timeout_ms: int = 60_000  # 4 ticks of game time
    default_reward: float = 0.0  # reward of a decision whose reward never came
    drop_expired: bool = False  # True: drop (and count) expired decisions instead
    transactional: bool = True  # produce and commit in Kafka transactions
    transactional_id: str = ""  # default: queen-joiner-<hostname>
    # Experiences become visible to the trainer (read_committed) when the transaction commits:
    # this interval is added to freshness. 0.1 s is Kafka Streams' exactly-once default.
    commit_interval_s: float = 0.1
    # An epoch (a run of the game) with no record for this long (wall time) is over: what it
    # holds is resolved (decisions default). Above a tick (15 s) at real speed, with margin.
    idle_timeout_s: float = 120.0
    max_held: int = 500_000  # decisions + rewards held; beyond, the oldest resolve early
    max_held_mb: int = 256  # their encoded size, MiB
    max_epochs: int = 10_000  # (partition, epoch) clocks kept; beyond, the stalest resolves

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
            idle_timeout_s=env_float(
                env, "QUEEN_JOINER_IDLE_TIMEOUT_S", d.idle_timeout_s, minimum=0.1
            ),
            max_held=env_int(env, "QUEEN_JOINER_MAX_HELD", d.max_held, minimum=1),
            max_held_mb=env_int(env, "QUEEN_JOINER_MAX_HELD_MB", d.max_held_mb, minimum=1),
            max_epochs=env_int(env, "QUEEN_JOINER_MAX_EPOCHS", d.max_epochs, minimum=1),
        )

    def join_limits(self) -> JoinLimits:
        """The bounds of the join state."""
        return JoinLimits(
            idle_timeout_ms=int(self.idle_timeout_s * 1000),
            max_held=self.max_held,
            max_held_bytes=self.max_held_mb * 1024 * 1024,
            max_epochs=self.max_epochs,
        )
