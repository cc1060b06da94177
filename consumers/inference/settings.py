"""Inference's settings (QUEEN_INFERENCE_*, QUEEN_MODEL_*, QUEEN_RULES_*, QUEEN_TRUSTED_*, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from queen.policy import ExplorationConfig
from runtime.errors import SettingsError
from runtime.promotions import require_exploration, serving_mode
from runtime.settings import env_bool, env_float, env_int, env_str


@dataclass(frozen=True)
class InferenceSettings:
    """Inference's own settings."""

    group_id: str = "queen-inference"  # consumer group; instances share the partitions
    model_name: str = "queen"  # the key of the versions served
    model_seed: int = 0  # seed of version 0, the same in every process
    policy_seed: int = 0  # seed of the exploring policy
    exploration: str = "epsilon"  # epsilon | softmax
    # share of uniformly random actions (epsilon mode), in [0, 1]; above 0 in gated and manual
    # modes (the promoter evaluates versions on the logged decisions)
    epsilon: float = 0.1
    temperature: float = 0.1  # softmax temperature over action values (softmax mode), > 0
    gate_threshold: float = 0.0  # expected gain over waiting required to SEND
    batch_size: int = 500  # observations per micro-batch at most
    torch_threads: int = 1  # intra-op threads: micro-batches are small; more threads add jitter
    # Public keys whose signatures are trusted: comma-separated PEM files or directories of
    # them (runtime/signing.py). Required: an unsigned version is never served.
    trusted_keys: str = ""
    max_version_jump: int = 10**9  # a version more than this past the served one is refused
    # Seconds an observation naming a rules version not known yet waits for its rule set on
    # queen.rules (the rest of its batch is decided at once); then it is decided under
    # rules_unknown_policy.
    rules_wait_s: float = 2.0
    # wait: decide WAIT (the gate cannot simulate unknown rules); newest: gate it under the
    # newest rules known (WAIT when none is).
    rules_unknown_policy: str = "wait"
    # Public keys a rule set must be signed by to be learnt (comma-separated PEM files or
    # directories; runtime/rule_signing.py); empty: unsigned rule sets are learnt too.
    rules_trusted_keys: str = ""
    # immediate: serve every version as it arrives (rollbacks honoured); gated: serve only
    # the version the newest valid promotion carries (the promoter's, consumers/promoter);
    # manual: as gated, promotions from the promoter's CLI only.
    serving_mode: str = "gated"
    # Public keys trusted for promotions (the promoter's; never the trainer's): PEM files or
    # directories. Required in gated and manual modes; in immediate mode, rollbacks are
    # followed only when set.
    trusted_promoter_keys: str = ""
    # Shadow scoring: in gated and manual modes, run the newest verified version not served
    # (the candidate) on every batch too and log its greedy action and policy probabilities
    # in each Decision's `shadow`, never acting on them (one more forward pass per batch).
    shadow: bool = True

    def __post_init__(self) -> None:
        """Validate what is not checked where it is used."""
        if self.rules_unknown_policy not in ("wait", "newest"):
            msg = f"QUEEN_RULES_UNKNOWN_POLICY={self.rules_unknown_policy!r}: one of wait, newest"
            raise SettingsError(msg)
        mode = serving_mode(self.serving_mode)
        require_exploration(mode, self.exploration_config())
        if mode.value != "IMMEDIATE" and not self.trusted_promoter_keys:
            msg = (
                f"QUEEN_TRUSTED_PROMOTER_KEYS='': QUEEN_SERVING_MODE={self.serving_mode} "
                "serves only promoted versions; set it to the promoter's public key(s)"
            )
            raise SettingsError(msg)
        if not self.trusted_keys:
            msg = (
                "QUEEN_TRUSTED_KEYS='': set it to the trainer's public key(s) (PEM files or "
                "directories); without one no trained version could ever be served"
            )
            raise SettingsError(msg)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InferenceSettings:
        """Read the settings; bad values raise SettingsError naming them."""
        d = cls
        return cls(
            group_id=env_str(env, "QUEEN_INFERENCE_GROUP", d.group_id),
            model_name=env_str(env, "QUEEN_MODEL_NAME", d.model_name),
            model_seed=env_int(env, "QUEEN_MODEL_SEED", d.model_seed),
            policy_seed=env_int(env, "QUEEN_INFERENCE_POLICY_SEED", d.policy_seed),
            exploration=env_str(env, "QUEEN_INFERENCE_EXPLORATION", d.exploration),
            epsilon=env_float(env, "QUEEN_INFERENCE_EPSILON", d.epsilon, minimum=0.0),
            temperature=env_float(env, "QUEEN_INFERENCE_TEMPERATURE", d.temperature),
            gate_threshold=env_float(env, "QUEEN_GATE_THRESHOLD", d.gate_threshold),
            batch_size=env_int(env, "QUEEN_INFERENCE_BATCH_SIZE", d.batch_size, minimum=1),
            torch_threads=env_int(env, "QUEEN_TORCH_THREADS", d.torch_threads, minimum=1),
            trusted_keys=env_str(env, "QUEEN_TRUSTED_KEYS", d.trusted_keys),
            max_version_jump=env_int(env, "QUEEN_MAX_VERSION_JUMP", d.max_version_jump, minimum=1),
            rules_wait_s=env_float(env, "QUEEN_RULES_WAIT_S", d.rules_wait_s, minimum=0.0),
            rules_unknown_policy=env_str(env, "QUEEN_RULES_UNKNOWN_POLICY", d.rules_unknown_policy),
            rules_trusted_keys=env_str(env, "QUEEN_RULES_TRUSTED_KEYS", d.rules_trusted_keys),
            serving_mode=env_str(env, "QUEEN_SERVING_MODE", d.serving_mode),
            trusted_promoter_keys=env_str(
                env, "QUEEN_TRUSTED_PROMOTER_KEYS", d.trusted_promoter_keys
            ),
            shadow=env_bool(env, "QUEEN_INFERENCE_SHADOW", d.shadow),
        )

    def exploration_config(self) -> ExplorationConfig:
        """The policy's config; an invalid one raises SettingsError naming the setting."""
        try:
            return ExplorationConfig(self.exploration, self.epsilon, self.temperature)
        except ValueError as exc:
            raise SettingsError(f"QUEEN_INFERENCE_* exploration settings: {exc}") from exc
