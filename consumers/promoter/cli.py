"""The manual CLI: `python -m consumers.promoter promote VERSION | rollback`.

Reads what is served (the promotions on the topic) and the verified versions on
queen.model-versions until idle, then produces one promotion signed with the promoter's key
(QUEEN_PROMOTER_SIGNING_KEY_FILE) and waits for its delivery. `rollback` serves again the
version served before the current one (withdrawing the current one); it needs that version
still on one of the two topics. Exit 0 when delivered, 2 on a refusal (one line saying why).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Sequence

from consumers.promoter.handler import Known
from consumers.promoter.settings import PromoterSettings
from consumers.promoter.versions import ServedView, VersionFollower, VersionStore
from queen.model import initial_model
from runtime.kafka import make_producer, make_reader
from runtime.model_versions import VersionCheck
from runtime.promotions import PromotionCheck, PromotionReader
from runtime.service import make_codec
from runtime.settings import CodecSettings, KafkaSettings, limits_from_env
from runtime.signing import Signer, Verifier, load_private_key, load_trusted_keys
from runtime.tail import assign_from_beginning
from runtime.topics import MODEL_VERSIONS, PROMOTIONS
from schemas.enums import PromotionKind, ServingMode
from schemas.records import ModelVersion, Promotion

logger = logging.getLogger(__name__)


def main(argv: Sequence[str]) -> int:
    """Promote a version or roll back, once."""
    parser = argparse.ArgumentParser(prog="python -m consumers.promoter")
    sub = parser.add_subparsers(dest="command", required=True)
    promote = sub.add_parser("promote", help="serve VERSION (a verified version on the topic)")
    promote.add_argument("version", type=int)
    sub.add_parser("rollback", help="serve again the version served before the current one")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    env = os.environ
    settings = PromoterSettings.from_env(env)
    kafka = KafkaSettings.from_env(env)
    codec = make_codec(CodecSettings.from_env(env), limits_from_env(env))
    versions = VersionCheck(
        settings.model_name,
        Verifier(load_trusted_keys(settings.trusted_keys)),
        settings.max_version_jump,
    )
    store = VersionStore(10**6)  # a one-shot read: every verified version on the topic
    zero = ModelVersion(settings.model_name, 0, None, 0, b"", "0" * 64, "", "")
    view = ServedView(store, Known(zero, initial_model(0)))
    stop = threading.Event()
    follower = VersionFollower(
        make_reader(kafka), kafka.topic(MODEL_VERSIONS), store, codec, versions, stop
    )
    promoters = Verifier(
        load_trusted_keys(settings.trusted_promoter_keys, "QUEEN_TRUSTED_PROMOTER_KEYS")
    )
    reader = PromotionReader(
        make_reader(kafka),
        kafka.topic(PROMOTIONS),
        view,
        codec,
        PromotionCheck(settings.model_name, promoters, versions, codec),
        stop,
    )
    # versions first: a promotion read back is checked on its own record anyway
    for consumer, topic, read_once in (
        (follower.consumer, MODEL_VERSIONS, follower.read_once),
        (reader.consumer, PROMOTIONS, reader.read_once),
    ):
        assign_from_beginning(consumer, kafka.topic(topic))
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 1.5:  # read until 1.5 s pass without a record
            if read_once(0.2):
                idle_since = time.monotonic()
        consumer.close()
    served, previous = view.served()
    if args.command == "promote":
        target = next((k for k in store.arrived() if k.record.version == args.version), None)
        if target is None:
            logger.error("version %d: not a verified version on the topic", args.version)
            return 2
        kind = PromotionKind.PROMOTE
    else:
        if previous is None or previous.record.version == 0:
            logger.error("rollback: no previously served version known to serve again")
            return 2
        target, kind = previous, PromotionKind.ROLLBACK
    signer = Signer(load_private_key(settings.signing_key_file, "QUEEN_PROMOTER_SIGNING_KEY_FILE"))
    promotion = signer.sign_promotion(
        Promotion(
            model_name=settings.model_name,
            model_version=target.record.version,
            sha256=target.record.sha256,
            kind=kind,
            mode=ServingMode.MANUAL,
            version_record=codec.encode(target.record),
            previous_version=None if served is None else served.record.version,
            created_at=max(time.time_ns() // 1000, view.last_promotion_at + 1),
            reason=f"manual {args.command} by the promoter CLI",
        )
    )
    producer = make_producer(kafka)
    producer.produce(
        kafka.topic(PROMOTIONS), key=settings.model_name.encode(), value=codec.encode(promotion)
    )
    if producer.flush(30) != 0:
        logger.error("the promotion was not delivered within 30 s")
        return 2
    logger.info("%s of version %d delivered", kind.value.lower(), target.record.version)
    return 0
