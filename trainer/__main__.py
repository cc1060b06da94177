"""`python -m trainer`: experiences → replay buffer → a training step every interval → versions."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from queen.model import initial_model
from queen.weights import load_weights
from runtime.kafka import make_reader
from runtime.loop import LoopConfig
from runtime.service import ServiceContext, service_parser
from runtime.settings import env_str
from runtime.topics import EXPERIENCES, MODEL_VERSIONS
from schemas.records import Experience
from trainer.buffer.buffer import ReplayBuffer
from trainer.buffer.sampler import PrioritySampler, UniformSampler
from trainer.learner import Learner
from trainer.metrics import TrainerMetrics
from trainer.publisher import latest_published
from trainer.service import TrainerHandler
from trainer.settings import ContinuousTrainingConfig

logger = logging.getLogger("trainer")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer until SIGTERM/SIGINT."""
    parser = service_parser(__doc__ or "")
    parser.add_argument("--taken-log", help="QUEEN_TRAINER_TAKEN_LOG: file of decision_ids taken")
    parser.add_argument("--interval", type=float, help="QUEEN_TRAINER_TRAINING_INTERVAL")
    ctx = ServiceContext.create(
        "trainer",
        argv,
        parser,
        {"taken_log": "QUEEN_TRAINER_TAKEN_LOG", "interval": "QUEEN_TRAINER_TRAINING_INTERVAL"},
    )
    config = ContinuousTrainingConfig.from_env(ctx.environ)
    topic = ctx.kafka.topic(MODEL_VERSIONS)
    latest = latest_published(make_reader(ctx.kafka), topic, config.model_name, ctx.codec)
    if latest is None:
        model, version, step = initial_model(config.seed), 0, 0
    else:
        model = load_weights(
            latest.weights,
            latest.sha256,
            latest.architecture_fingerprint,
            latest.feature_fingerprint,
        )
        version, step = latest.version, latest.training.step if latest.training else 0
    logger.info("resuming from version %d (step %d)", version, step)
    sampler = (
        PrioritySampler(config.priority_alpha, config.priority_beta, config.seed)
        if config.priority_sampling
        else UniformSampler(config.seed)
    )
    buffer = ReplayBuffer(
        config.buffer_capacity,
        config.min_batch_size,
        sampler,
        int(config.max_experience_age_s * 1000),
        config.max_version_lag,
    )
    metrics = TrainerMetrics.create(ctx.registry)
    metrics.current_model_version.set(version)
    taken_path = env_str(ctx.environ, "QUEEN_TRAINER_TAKEN_LOG", "")
    taken_log = open(taken_path, "a", encoding="utf-8") if taken_path else None  # noqa: SIM115
    handler = TrainerHandler(
        Learner(model, config, version, step), buffer, config, topic, metrics, taken_log
    )
    tick = min(0.05, config.training_interval / 4) if config.training_interval > 0 else 0.0
    loop = ctx.loop(
        env_str(ctx.environ, "QUEEN_TRAINER_GROUP", "queen-trainer"),
        {ctx.kafka.topic(EXPERIENCES): Experience},
        handler,
        LoopConfig(batch_size=1000, poll_timeout=0.01, tick_interval=tick, commit_interval=1.0),
    )
    try:
        loop.run(ctx.stop)
    finally:
        if taken_log is not None:
            taken_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
