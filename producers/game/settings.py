"""The game's settings (QUEEN_GAME_*, QUEEN_TERRITORIES), read once in main."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
        )
