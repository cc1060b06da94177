"""The game's settings (QUEEN_GAME_*, QUEEN_TERRITORIES: only the simulator counts territories)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runtime.errors import SettingsError
from runtime.settings import env_float, env_int, env_str


@dataclass(frozen=True)
class GameSettings:
    """The simulated game's settings."""

    speed: float = 1.0  # game seconds per wall second; 1 = real time (a tick every 15 s)
    territories: int = 64  # territories of the simulated world (only the simulator counts them)
    seed: int = 0  # the simulated world's seed (same seed, same game)
    rule_switch_tick: int = -1  # tick of patch day; -1: never
    ticks: int = 0  # stop after this many ticks; 0: play until stopped
    epoch: str = ""  # id of this run of the game; empty: a fresh random one at every start
    # Chance per tick that a territory's match ends and a new one (a new territory id) starts:
    # territories come and go at run time; 0 keeps the same territories all game.
    match_churn: float = 0.0
    # The Ed25519 private key (PEM) the rule sets the game publishes are signed with;
    # empty: published unsigned (readers with QUEEN_RULES_TRUSTED_KEYS refuse them).
    rules_signing_key_file: str = ""

    def __post_init__(self) -> None:
        """Validate what is not checked where it is read."""
        if not 0.0 <= self.match_churn <= 1.0:
            msg = f"QUEEN_GAME_MATCH_CHURN={self.match_churn!r}: must be in [0, 1]"
            raise SettingsError(msg)

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
            epoch=env_str(env, "QUEEN_GAME_EPOCH", d.epoch),
            match_churn=env_float(env, "QUEEN_GAME_MATCH_CHURN", d.match_churn, minimum=0.0),
            rules_signing_key_file=env_str(
                env, "QUEEN_RULES_SIGNING_KEY_FILE", d.rules_signing_key_file
            ),
        )
