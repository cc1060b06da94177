"""`python -m consumers.inference`: observations → decisions, hot-loading model versions."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

from consumers.inference.handler import InferenceHandler
from consumers.inference.metrics import InferenceMetrics
from consumers.inference.model_slot import ModelSlot, VersionReader
from consumers.inference.settings import InferenceSettings
from queen.model import initial_model
from queen.policy import ExplorationPolicy
from runtime.kafka import make_reader
from runtime.loop import LoopConfig
from runtime.model_versions import VersionCheck
from runtime.promotions import PromotionCheck, PromotionReader, serving_mode
from runtime.rule_book import RuleBook, RuleBookMetrics, RuleReader
from runtime.rule_signing import rules_verifier
from runtime.service import ServiceContext, run_service, service_parser
from runtime.signing import Verifier, load_trusted_keys
from runtime.topics import (
    DEAD_LETTERS,
    DECISIONS,
    MODEL_VERSIONS,
    OBSERVATIONS,
    PROMOTIONS,
    RULES,
)
from schemas.records import Observation

FLAGS = {"group": "QUEEN_INFERENCE_GROUP"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run inference until SIGTERM/SIGINT."""
    parser = service_parser(
        "consumers.inference", __doc__ or "", FLAGS, ("consumers.inference.settings",)
    )
    ctx = ServiceContext.create(
        "inference",
        argv,
        parser,
        FLAGS,
        (OBSERVATIONS, DECISIONS, MODEL_VERSIONS, RULES, PROMOTIONS, DEAD_LETTERS),
    )
    settings = InferenceSettings.from_env(ctx.environ)
    check = VersionCheck(
        settings.model_name,
        Verifier(load_trusted_keys(settings.trusted_keys)),
        settings.max_version_jump,
    )
    torch.set_num_threads(settings.torch_threads)
    metrics = InferenceMetrics.create(ctx.registry)
    slot = ModelSlot(
        initial_model(settings.model_seed), metrics, serving_mode(settings.serving_mode)
    )
    VersionReader(
        make_reader(ctx.kafka),
        ctx.kafka.topic(MODEL_VERSIONS),
        slot,
        ctx.codec,
        check,
        ctx.stop,
        ctx.dead_letters,
    ).start()
    book = RuleBook(
        RuleBookMetrics.create(ctx.registry, "inference"),
        verifier=rules_verifier(settings.rules_trusted_keys),
    )
    RuleReader(
        make_reader(ctx.kafka), ctx.kafka.topic(RULES), book, ctx.codec, ctx.stop, ctx.dead_letters
    ).start()
    if settings.trusted_promoter_keys:
        promoters = Verifier(
            load_trusted_keys(settings.trusted_promoter_keys, "QUEEN_TRUSTED_PROMOTER_KEYS")
        )
        PromotionReader(
            make_reader(ctx.kafka),
            ctx.kafka.topic(PROMOTIONS),
            slot,
            ctx.codec,
            PromotionCheck(settings.model_name, promoters, check, ctx.codec),
            ctx.stop,
            ctx.dead_letters,
        ).start()
    handler = InferenceHandler(
        slot,
        ExplorationPolicy(settings.exploration_config(), settings.policy_seed),
        ctx.kafka.topic(DECISIONS),
        settings.gate_threshold,
        metrics,
        book=book,
        rules_wait_s=settings.rules_wait_s,
        unknown_rules=settings.rules_unknown_policy,
        shadow=settings.shadow,
    )
    loop = ctx.loop(
        settings.group_id,
        {ctx.kafka.topic(OBSERVATIONS): Observation},
        handler,
        LoopConfig(
            batch_size=settings.batch_size,
            poll_timeout=0.01,
            commit_interval=1.0,
            tick_interval=0.05,  # how often observations waiting for their rules are looked at
        ),
    )
    loop.run(ctx.stop)
    return 0


if __name__ == "__main__":
    sys.exit(run_service(main))
