"""`python -m trainer`: experiences → replay buffer → a training step every interval → versions."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from queen.model import initial_model
from queen.weights import load_weights
from runtime.kafka import make_consumer, make_reader
from runtime.loop import LoopConfig
from runtime.service import ServiceContext, service_parser
from runtime.settings import env_str
from runtime.topics import EXPERIENCES, MODEL_VERSIONS
from schemas.records import Experience
from trainer.buffer.buffer import make_buffer
from trainer.checkpoint import load_latest
from trainer.learner import Learner
from trainer.metrics import TrainerMetrics
from trainer.publisher import latest_published
from trainer.rebuild import rebuild
from trainer.service import TrainerHandler
from trainer.settings import ContinuousTrainingConfig
from trainer.watchdog import Watchdog

logger = logging.getLogger("trainer")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer until SIGTERM/SIGINT (or the watchdog ends it)."""
    parser = service_parser(__doc__ or "")
    parser.add_argument("--taken-log", help="QUEEN_TRAINER_TAKEN_LOG: file of decision_ids taken")
    parser.add_argument("--interval", type=float, help="QUEEN_TRAINER_TRAINING_INTERVAL")
    parser.add_argument("--checkpoint-dir", help="QUEEN_TRAINER_CHECKPOINT_DIR")
    ctx = ServiceContext.create(
        "trainer",
        argv,
        parser,
        {
            "taken_log": "QUEEN_TRAINER_TAKEN_LOG",
            "interval": "QUEEN_TRAINER_TRAINING_INTERVAL",
            "checkpoint_dir": "QUEEN_TRAINER_CHECKPOINT_DIR",
        },
    )
    config = ContinuousTrainingConfig.from_env(ctx.environ)
    checkpoint_dir = env_str(ctx.environ, "QUEEN_TRAINER_CHECKPOINT_DIR", "var/checkpoints")
    group = env_str(ctx.environ, "QUEEN_TRAINER_GROUP", "queen-trainer")
    learner = resume(ctx, config, checkpoint_dir)
    buffer = make_buffer(config)
    experiences_topic = ctx.kafka.topic(EXPERIENCES)
    rebuild(
        buffer,
        make_consumer(ctx.kafka, group),
        make_reader(ctx.kafka),
        experiences_topic,
        ctx.codec,
    )
    metrics = TrainerMetrics.create(ctx.registry)
    metrics.current_model_version.set(learner.version)
    metrics.buffer_size.set(len(buffer))
    taken_path = env_str(ctx.environ, "QUEEN_TRAINER_TAKEN_LOG", "")
    taken_log = open(taken_path, "a", encoding="utf-8") if taken_path else None  # noqa: SIM115
    handler = TrainerHandler(
        learner,
        buffer,
        config,
        ctx.kafka.topic(MODEL_VERSIONS),
        metrics,
        taken_log,
        checkpoint_dir,
    )
    limit = config.watchdog_multiple * max(config.training_interval, 0.1)
    Watchdog(lambda: handler.waiting_since, limit, ctx.stop).start()
    tick = min(0.05, config.training_interval / 4) if config.training_interval > 0 else 0.0
    loop = ctx.loop(
        group,
        {experiences_topic: Experience},
        handler,
        LoopConfig(batch_size=1000, poll_timeout=0.01, tick_interval=tick, commit_interval=1.0),
    )
    try:
        loop.run(ctx.stop)
        handler.checkpoint()
    finally:
        if taken_log is not None:
            taken_log.close()
    return 0


def resume(ctx: ServiceContext, config: ContinuousTrainingConfig, checkpoint_dir: str) -> Learner:
    """Return a learner at the newer of the last checkpoint and the latest published version."""
    topic = ctx.kafka.topic(MODEL_VERSIONS)
    latest = latest_published(make_reader(ctx.kafka), topic, config.model_name, ctx.codec)
    checkpoint = load_latest(checkpoint_dir) if checkpoint_dir else None
    if checkpoint is not None and (latest is None or checkpoint.version >= latest.version):
        logger.info("resuming from checkpoint version %d", checkpoint.version)
        return Learner(
            checkpoint.model,
            config,
            checkpoint.version,
            checkpoint.step,
            checkpoint.optimizer_state,
        )
    if latest is not None:
        logger.info("resuming from published version %d", latest.version)
        model = load_weights(
            latest.weights,
            latest.sha256,
            latest.architecture_fingerprint,
            latest.feature_fingerprint,
        )
        return Learner(
            model, config, latest.version, latest.training.step if latest.training else 0
        )
    logger.info("starting from the seeded initial model (version 0)")
    return Learner(initial_model(config.seed), config)


if __name__ == "__main__":
    sys.exit(main())
