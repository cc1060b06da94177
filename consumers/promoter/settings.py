"""The promoter's settings (QUEEN_PROMOTER_*, and the shared QUEEN_SERVING_MODE), read in main."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from queen.policy import ExplorationConfig
from runtime.errors import SettingsError
from runtime.promotions import require_exploration, serving_mode
from runtime.settings import env_float, env_int, env_str

METHODS = ("ips", "snips", "dr")


@dataclass(frozen=True)
class PromoterSettings:
    """The promoter's own settings."""

    group_id: str = "queen-promoter"  # consumer group of its experiences reader
    model_name: str = "queen"
    serving_mode: str = "gated"  # shared with inference (QUEEN_SERVING_MODE)
    # The promoter's Ed25519 private key (PEM): its promotions are signed with it. A key of
    # its own, never the trainer's: the trainer cannot promote its own versions.
    signing_key_file: str = ""
    trusted_keys: str = ""  # the trainer's public key(s): versions are checked with them
    # Public key(s) trusted for promotions: the promoter reads back what is served (its own
    # promotions and the CLI's).
    trusted_promoter_keys: str = ""
    max_version_jump: int = 10**9
    window: int = 2000  # the recent joined (MATCHED) experiences scored on
    method: str = "dr"  # the deciding estimator: ips | snips | dr
    confidence: float = 0.95  # of the estimates' intervals, in (0, 1)
    tolerance: float = 0.05  # a candidate's lower bound may be this far below the served value
    min_samples: int = 200  # the served version's own rows (and rows before) needed to decide
    # Roll back when the served version's realized reward per decision (on its own decisions)
    # is this far below that of the decisions before it, even at its interval's upper end ...
    rollback_margin: float = 0.1
    # ... or the share of its actions the gate agrees to send is this far below theirs.
    agreement_margin: float = 0.1
    evaluate_interval_s: float = 1.0  # seconds between scorings (bounded work)
    # A candidate's estimate needs this many effective rows (the lower of the drawn and the
    # expected effective sample size); 0: off (docs/evaluation.md says why that is the default).
    min_effective_n: float = 0.0
    keep_versions: int = 16  # verified versions kept (the newest, by arrival)
    # The exploring policy inference runs (shared QUEEN_INFERENCE_* settings): the target
    # policy's probabilities are computed with the same rule.
    exploration: str = "epsilon"
    epsilon: float = 0.1
    temperature: float = 0.1

    def __post_init__(self) -> None:
        """Validate what is not checked where it is used."""
        require_exploration(serving_mode(self.serving_mode), self.exploration_config())
        if self.method not in METHODS:
            msg = f"QUEEN_PROMOTER_METHOD={self.method!r}: must be one of {', '.join(METHODS)}"
            raise SettingsError(msg)
        if not 0.0 < self.confidence < 1.0:
            raise SettingsError(f"QUEEN_PROMOTER_CONFIDENCE={self.confidence!r}: must be in (0, 1)")
        for name, setting in (
            ("signing_key_file", "QUEEN_PROMOTER_SIGNING_KEY_FILE"),
            ("trusted_keys", "QUEEN_TRUSTED_KEYS"),
            ("trusted_promoter_keys", "QUEEN_TRUSTED_PROMOTER_KEYS"),
        ):
            if not getattr(self, name):
                raise SettingsError(f"{setting}='': the promoter needs it (docs/security.md)")
        if self.window < 2 * self.min_samples:
            msg = (
                f"QUEEN_PROMOTER_WINDOW={self.window}: must be at least twice "
                f"QUEEN_PROMOTER_MIN_SAMPLES={self.min_samples} (a rollback compares the served "
                "version's own rows with the rows before them, each at least min_samples)"
            )
            raise SettingsError(msg)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PromoterSettings:
        """Read the settings; bad values raise SettingsError naming them."""
        d = cls
        return cls(
            group_id=env_str(env, "QUEEN_PROMOTER_GROUP", d.group_id),
            model_name=env_str(env, "QUEEN_MODEL_NAME", d.model_name),
            serving_mode=env_str(env, "QUEEN_SERVING_MODE", d.serving_mode),
            signing_key_file=env_str(env, "QUEEN_PROMOTER_SIGNING_KEY_FILE", d.signing_key_file),
            trusted_keys=env_str(env, "QUEEN_TRUSTED_KEYS", d.trusted_keys),
            trusted_promoter_keys=env_str(
                env, "QUEEN_TRUSTED_PROMOTER_KEYS", d.trusted_promoter_keys
            ),
            max_version_jump=env_int(env, "QUEEN_MAX_VERSION_JUMP", d.max_version_jump, minimum=1),
            window=env_int(env, "QUEEN_PROMOTER_WINDOW", d.window, minimum=10),
            method=env_str(env, "QUEEN_PROMOTER_METHOD", d.method),
            confidence=env_float(env, "QUEEN_PROMOTER_CONFIDENCE", d.confidence),
            tolerance=env_float(env, "QUEEN_PROMOTER_TOLERANCE", d.tolerance, minimum=0.0),
            min_samples=env_int(env, "QUEEN_PROMOTER_MIN_SAMPLES", d.min_samples, minimum=1),
            rollback_margin=env_float(
                env, "QUEEN_PROMOTER_ROLLBACK_MARGIN", d.rollback_margin, minimum=0.0
            ),
            evaluate_interval_s=env_float(
                env, "QUEEN_PROMOTER_EVALUATE_INTERVAL_S", d.evaluate_interval_s, minimum=0.01
            ),
            agreement_margin=env_float(
                env, "QUEEN_PROMOTER_AGREEMENT_MARGIN", d.agreement_margin, minimum=0.0
            ),
            min_effective_n=env_float(
                env, "QUEEN_PROMOTER_MIN_EFFECTIVE_N", d.min_effective_n, minimum=0.0
            ),
            keep_versions=env_int(env, "QUEEN_PROMOTER_KEEP_VERSIONS", d.keep_versions, minimum=2),
            exploration=env_str(env, "QUEEN_INFERENCE_EXPLORATION", d.exploration),
            epsilon=env_float(env, "QUEEN_INFERENCE_EPSILON", d.epsilon, minimum=0.0),
            temperature=env_float(env, "QUEEN_INFERENCE_TEMPERATURE", d.temperature),
        )

    def exploration_config(self) -> ExplorationConfig:
        """The exploring policy's config; an invalid one raises SettingsError."""
        try:
            return ExplorationConfig(self.exploration, self.epsilon, self.temperature)
        except ValueError as exc:
            raise SettingsError(f"QUEEN_INFERENCE_* exploration settings: {exc}") from exc
