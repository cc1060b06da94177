"""`python -m consumers.inference`: observations → decisions, hot-loading model versions."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from consumers.inference.handler import InferenceHandler
from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot, VersionReader
from queen.model import initial_model
from queen.policy import ExplorationConfig, ExplorationPolicy
from runtime.errors import SettingsError
from runtime.kafka import make_reader
from runtime.loop import LoopConfig
from runtime.service import ServiceContext, service_parser
from runtime.settings import env_float, env_int, env_str
from runtime.topics import DECISIONS, MODEL_VERSIONS, OBSERVATIONS
from schemas.records import Observation


@dataclass(frozen=True)
class InferenceSettings:
    """Inference's own settings (QUEEN_INFERENCE_*, QUEEN_TERRITORIES, QUEEN_MODEL_SEED)."""

    group_id: str = "queen-inference"
    territories: int = 64  # territories the world has; other ids are invalid
    model_seed: int = 0  # seed of version 0, the same in every process
    policy_seed: int = 0  # seed of the exploring policy
    exploration: str = "epsilon"  # epsilon | softmax
    epsilon: float = 0.1
    temperature: float = 0.1
    gate_threshold: float = 0.0  # expected gain over waiting required to SEND
    batch_size: int = 500  # observations per micro-batch at most
    torch_threads: int = 1  # intra-op threads: micro-batches are small; more threads add jitter

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InferenceSettings:
        """Read the settings; bad values raise SettingsError naming them."""
        d = cls
        return cls(
            group_id=env_str(env, "QUEEN_INFERENCE_GROUP", d.group_id),
            territories=env_int(env, "QUEEN_TERRITORIES", d.territories, minimum=1),
            model_seed=env_int(env, "QUEEN_MODEL_SEED", d.model_seed),
            policy_seed=env_int(env, "QUEEN_INFERENCE_POLICY_SEED", d.policy_seed),
            exploration=env_str(env, "QUEEN_INFERENCE_EXPLORATION", d.exploration),
            epsilon=env_float(env, "QUEEN_INFERENCE_EPSILON", d.epsilon, minimum=0.0),
            temperature=env_float(env, "QUEEN_INFERENCE_TEMPERATURE", d.temperature),
            gate_threshold=env_float(env, "QUEEN_GATE_THRESHOLD", d.gate_threshold),
            batch_size=env_int(env, "QUEEN_INFERENCE_BATCH_SIZE", d.batch_size, minimum=1),
            torch_threads=env_int(env, "QUEEN_TORCH_THREADS", d.torch_threads, minimum=1),
        )

    def exploration_config(self) -> ExplorationConfig:
        """The policy's config; an invalid one raises SettingsError naming the setting."""
        try:
            return ExplorationConfig(self.exploration, self.epsilon, self.temperature)
        except ValueError as exc:
            raise SettingsError(f"QUEEN_INFERENCE_* exploration settings: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run inference until SIGTERM/SIGINT."""
    parser = service_parser(__doc__ or "")
    parser.add_argument("--territories", type=int, help="QUEEN_TERRITORIES")
    parser.add_argument("--group", help="QUEEN_INFERENCE_GROUP")
    ctx = ServiceContext.create(
        "inference",
        argv,
        parser,
        {"territories": "QUEEN_TERRITORIES", "group": "QUEEN_INFERENCE_GROUP"},
    )
    settings = InferenceSettings.from_env(ctx.environ)
    torch.set_num_threads(settings.torch_threads)
    metrics = InferenceMetrics.create(ctx.registry)
    slot = ModelSlot(initial_model(settings.model_seed), metrics)
    reader = make_reader(ctx.kafka)
    VersionReader(reader, ctx.kafka.topic(MODEL_VERSIONS), slot, ctx.codec, ctx.stop).start()
    handler = InferenceHandler(
        slot,
        ExplorationPolicy(settings.exploration_config(), settings.policy_seed),
        ctx.kafka.topic(DECISIONS),
        settings.territories,
        settings.gate_threshold,
        metrics,
    )
    loop = ctx.loop(
        settings.group_id,
        {ctx.kafka.topic(OBSERVATIONS): Observation},
        handler,
        LoopConfig(batch_size=settings.batch_size, poll_timeout=0.01, commit_interval=1.0),
    )
    loop.run(ctx.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
