"""The trainer service's own settings (beside the seed's ContinuousTrainingConfig)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runtime.errors import SettingsError
from runtime.settings import env_int, env_str


@dataclass(frozen=True)
class TrainerServiceSettings:
    """Where the trainer keeps its state and its keys (QUEEN_TRAINER_*, QUEEN_SIGNING_*)."""

    group_id: str = "queen-trainer"  # consumer group (its offsets: lag, and resume of old data)
    checkpoint_dir: str = "var/checkpoints"  # checkpoints and the reserved version number
    taken_log: str = ""  # test hook: a file of "version created_at decision_id" lines
    # The Ed25519 private key every published version is signed with (PEM, PKCS#8).
    signing_key_file: str = ""
    # Public keys a version must verify under to be resumed from (comma-separated PEM files or
    # directories); the trainer's own public key among them.
    trusted_keys: str = ""
    max_version_jump: int = 10**9
    # Public keys a rule set must be signed by to be learnt (runtime/rule_signing.py); empty:
    # unsigned rule sets are learnt too.
    rules_trusted_keys: str = ""

    def __post_init__(self) -> None:
        """Both keys are required: a trainer publishes nothing unsigned, trusts nothing unsigned."""
        if not self.signing_key_file:
            msg = (
                "QUEEN_SIGNING_KEY_FILE='': set it to the Ed25519 private key (PEM) the trainer "
                "signs versions with (python -m runtime.signing keygen --out DIR makes one)"
            )
            raise SettingsError(msg)
        if not self.trusted_keys:
            msg = "QUEEN_TRUSTED_KEYS='': set it to the public key(s) versions are checked with"
            raise SettingsError(msg)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TrainerServiceSettings:
        """Read the settings; bad values raise SettingsError naming them."""
        d = cls
        return cls(
            group_id=env_str(env, "QUEEN_TRAINER_GROUP", d.group_id),
            checkpoint_dir=env_str(env, "QUEEN_TRAINER_CHECKPOINT_DIR", d.checkpoint_dir),
            taken_log=env_str(env, "QUEEN_TRAINER_TAKEN_LOG", d.taken_log),
            signing_key_file=env_str(env, "QUEEN_SIGNING_KEY_FILE", d.signing_key_file),
            trusted_keys=env_str(env, "QUEEN_TRUSTED_KEYS", d.trusted_keys),
            max_version_jump=env_int(env, "QUEEN_MAX_VERSION_JUMP", d.max_version_jump, minimum=1),
            rules_trusted_keys=env_str(env, "QUEEN_RULES_TRUSTED_KEYS", d.rules_trusted_keys),
        )
