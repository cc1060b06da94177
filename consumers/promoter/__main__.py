"""`python -m consumers.promoter`: score candidate versions off-policy; promote or roll back.

`python -m consumers.promoter promote VERSION` and `... rollback` are the manual CLI
(consumers/promoter/cli.py): one promotion, signed with the promoter's key, then exit.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from consumers.promoter.handler import Decide, Known, PromoterHandler
from consumers.promoter.metrics import PromoterMetrics
from consumers.promoter.settings import PromoterSettings
from consumers.promoter.versions import (
    Seen,
    ServedView,
    VersionFollower,
    VersionStore,
)
from consumers.promoter.window import Window
from queen.model import initial_model
from runtime.kafka import make_reader
from runtime.loop import LoopConfig
from runtime.model_versions import VersionCheck
from runtime.promotions import PromotionCheck, PromotionReader, serving_mode
from runtime.service import ServiceContext, run_service, service_parser
from runtime.signing import Signer, Verifier, load_private_key, load_trusted_keys
from runtime.topics import DEAD_LETTERS, EXPERIENCES, MODEL_VERSIONS, PROMOTIONS
from schemas.records import Experience, ModelVersion

FLAGS = {"group": "QUEEN_PROMOTER_GROUP"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the promoter until SIGTERM/SIGINT (or the CLI, with promote/rollback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("promote", "rollback"):
        from consumers.promoter.cli import main as cli_main

        return cli_main(args)
    parser = service_parser(
        "consumers.promoter", __doc__ or "", FLAGS, ("consumers.promoter.settings",)
    )
    ctx = ServiceContext.create(
        "promoter", args, parser, FLAGS, (EXPERIENCES, MODEL_VERSIONS, PROMOTIONS, DEAD_LETTERS)
    )
    settings = PromoterSettings.from_env(ctx.environ)
    parts = build(ctx, settings)
    handler = PromoterHandler(
        settings.model_name,
        parts,
        Window(settings.window),
        Decide(
            serving_mode(settings.serving_mode),
            settings.method,
            settings.confidence,
            settings.tolerance,
            settings.min_samples,
            settings.rollback_margin,
            settings.evaluate_interval_s,
            settings.min_effective_n,
            settings.agreement_margin,
        ),
        settings.exploration_config(),
        Signer(
            load_private_key(settings.signing_key_file, "QUEEN_PROMOTER_SIGNING_KEY_FILE")
        ).sign_promotion,
        ctx.codec,
        ctx.kafka.topic(PROMOTIONS),
        parts.view.metrics,
    )
    loop = ctx.loop(
        settings.group_id,
        {ctx.kafka.topic(EXPERIENCES): Experience},
        handler,
        LoopConfig(batch_size=500, poll_timeout=0.05, commit_interval=1.0, tick_interval=0.1),
    )
    loop.run(ctx.stop)
    return 0


def build(ctx: ServiceContext, settings: PromoterSettings) -> Seen:
    """Start the followers of model-versions and promotions; return the handler's view."""
    metrics = PromoterMetrics.create(ctx.registry)
    versions = VersionCheck(
        settings.model_name,
        Verifier(load_trusted_keys(settings.trusted_keys)),
        settings.max_version_jump,
    )
    store = VersionStore(settings.keep_versions)
    seed = initial_model(0)
    zero = ModelVersion(settings.model_name, 0, None, 0, b"", "0" * 64, "", "")
    view = ServedView(store, Known(zero, seed), metrics)
    VersionFollower(
        make_reader(ctx.kafka),
        ctx.kafka.topic(MODEL_VERSIONS),
        store,
        ctx.codec,
        versions,
        ctx.stop,
        lambda reason: metrics.versions_rejected.labels(reason=reason).inc(),
    ).start()
    promoters = Verifier(
        load_trusted_keys(settings.trusted_promoter_keys, "QUEEN_TRUSTED_PROMOTER_KEYS")
    )
    PromotionReader(
        make_reader(ctx.kafka),
        ctx.kafka.topic(PROMOTIONS),
        view,
        ctx.codec,
        PromotionCheck(settings.model_name, promoters, versions, ctx.codec),
        ctx.stop,
    ).start()
    return Seen(store, view)


if __name__ == "__main__":
    sys.exit(run_service(main))
