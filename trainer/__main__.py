"""`python -m trainer`: experiences → replay buffer → a training step every interval → versions."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from runtime.kafka import make_consumer, make_reader
from runtime.loop import LoopConfig
from runtime.model_versions import VersionCheck
from runtime.rule_book import RuleBook, RuleBookMetrics, RuleReader
from runtime.rule_signing import rules_verifier
from runtime.service import ServiceContext, run_service, service_parser
from runtime.signing import Signer, Verifier, load_private_key, load_trusted_keys
from runtime.topics import DEAD_LETTERS, EXPERIENCES, MODEL_VERSIONS, RULES
from schemas.records import Experience
from trainer.buffer.buffer import make_buffer
from trainer.metrics import TrainerMetrics
from trainer.publisher import latest_published
from trainer.rebuild import committed_offsets, rebuild
from trainer.resume import resume
from trainer.service import TrainerHandler
from trainer.service_settings import TrainerServiceSettings
from trainer.settings import ContinuousTrainingConfig
from trainer.watchdog import Watchdog

logger = logging.getLogger("trainer")


FLAGS = {
    "taken_log": "QUEEN_TRAINER_TAKEN_LOG",
    "interval": "QUEEN_TRAINER_TRAINING_INTERVAL",
    "checkpoint_dir": "QUEEN_TRAINER_CHECKPOINT_DIR",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer until SIGTERM/SIGINT (or the watchdog ends it)."""
    parser = service_parser(
        "trainer", __doc__ or "", FLAGS, ("trainer.settings", "trainer.service_settings")
    )
    ctx = ServiceContext.create(
        "trainer",
        argv,
        parser,
        FLAGS,
        (EXPERIENCES, MODEL_VERSIONS, RULES, DEAD_LETTERS),
    )
    config = ContinuousTrainingConfig.from_env(ctx.environ)
    settings = TrainerServiceSettings.from_env(ctx.environ)
    signer = Signer(load_private_key(settings.signing_key_file))
    verifier = Verifier(load_trusted_keys(settings.trusted_keys))
    if signer.key_id not in verifier.trusted:
        logger.warning("the signing key %s is not among QUEEN_TRUSTED_KEYS", signer.key_id)
    check = VersionCheck(config.model_name, verifier, settings.max_version_jump)
    experiences_topic = ctx.kafka.topic(EXPERIENCES)
    topic_id = ctx.cluster.topic_id(experiences_topic)
    published = latest_published(
        make_reader(ctx.kafka), ctx.kafka.topic(MODEL_VERSIONS), ctx.codec, check
    )
    point = resume(config, settings.checkpoint_dir, published, topic_id)
    ends = (
        point.offsets
        if point.offsets is not None
        else committed_offsets(make_consumer(ctx.kafka, settings.group_id), experiences_topic)
    )
    buffer = make_buffer(config)
    rebuild(buffer, make_reader(ctx.kafka), experiences_topic, ctx.codec, ends)
    metrics = TrainerMetrics.create(ctx.registry)
    book = RuleBook(
        RuleBookMetrics.create(ctx.registry, "trainer"),
        verifier=rules_verifier(settings.rules_trusted_keys),
    )
    RuleReader(
        make_reader(ctx.kafka), ctx.kafka.topic(RULES), book, ctx.codec, ctx.stop, ctx.dead_letters
    ).start()
    metrics.current_model_version.set(point.weights_version)
    metrics.buffer_size.set(len(buffer))
    taken_log = (
        open(settings.taken_log, "a", encoding="utf-8")  # noqa: SIM115
        if settings.taken_log
        else None
    )
    handler = TrainerHandler(
        point.learner,
        buffer,
        config,
        ctx.kafka.topic(MODEL_VERSIONS),
        signer,
        metrics,
        taken_log,
        settings.checkpoint_dir,
        book,
    )
    handler.resume_at(point.offsets, topic_id)
    handler.parent_override = point.weights_version
    limit = config.watchdog_multiple * max(config.training_interval, 0.1)
    Watchdog(lambda: handler.waiting_since, limit, ctx.stop).start()
    tick = min(0.05, config.training_interval / 4) if config.training_interval > 0 else 0.0
    loop = ctx.loop(
        settings.group_id,
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


if __name__ == "__main__":
    sys.exit(run_service(main))
