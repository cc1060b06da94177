"""Model versions: the signed ModelVersion record of a step, and the latest trusted one published.

Every version the trainer publishes is signed (runtime/signing.py) and says how far the
experiences topic had been read when it was made (`input_offsets`, with the topic's id), so a
trainer resuming from it reads on from exactly there. The latest published version is read
back only through the same checks inference applies (runtime/model_versions.py): a version
nobody trusted signed is never resumed from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from queen.features import FEATURE_FINGERPRINT
from queen.model import ARCHITECTURE_FINGERPRINT, QueenNN
from queen.weights import sha256_hex, to_safetensors
from runtime.model_versions import Rejection, VersionCheck, newest_valid
from runtime.signing import Signer
from runtime.tail import assign_from_beginning, batches_until_idle
from schemas.codec import Codec
from schemas.records import InputOffset, ModelVersion, TrainingSummary
from trainer.learner import StepOutcome

logger = logging.getLogger(__name__)


def model_version(
    model_name: str,
    model: QueenNN,
    outcome: StepOutcome,
    signer: Signer,
    first_use: tuple[int, ...] = (),
    inputs: tuple[str, Mapping[int, int]] = ("", {}),
    parent_version: int | None = None,
    created_at: int | None = None,
) -> ModelVersion:
    """Return the signed ModelVersion record of the model after `outcome`.

    `first_use`: reward times of the experiences this step trained on for the first time.
    `inputs`: (topic id, partition -> next offset) of the experiences topic read so far.
    `parent_version`: the version the weights came from, when not the outcome's (a resumed
    trainer whose numbering skipped ahead).
    """
    weights = to_safetensors(model)
    topic_id, offsets = inputs
    record = ModelVersion(
        model_name=model_name,
        version=outcome.version,
        parent_version=outcome.parent_version if parent_version is None else parent_version,
        created_at=time.time_ns() // 1000 if created_at is None else created_at,
        weights=weights,
        sha256=sha256_hex(weights),
        architecture_fingerprint=ARCHITECTURE_FINGERPRINT,
        feature_fingerprint=FEATURE_FINGERPRINT,
        training=TrainingSummary(
            step=outcome.step,
            loss=outcome.loss,
            batch_size=outcome.batch_size,
            learning_rate=outcome.learning_rate,
            gate_agreement=outcome.gate_agreement,
            first_use_reward_emitted_at=first_use,
            input_topic_id=topic_id,
            input_offsets=tuple(InputOffset(p, o) for p, o in sorted(offsets.items())),
        ),
    )
    return signer.sign(record)


def latest_published(
    consumer: Any,
    topic: str,
    codec: Codec,
    check: VersionCheck,
    idle: float = 1.0,
) -> ModelVersion | None:
    """Return the newest trusted version of the checked model on `topic` (read until idle).

    The newest is the highest version number that passes `check`, not the last record: the
    topic may be compacted or not (Tansu does not compact), and may hold anybody's records.
    """

    def refused(message: Any, rejection: Rejection) -> None:
        logger.warning(
            "not resuming from %s[0]@%s (%s): %s",
            topic,
            message.offset(),
            rejection.reason,
            rejection,
        )

    assign_from_beginning(consumer, topic)
    best: ModelVersion | None = None
    try:
        for batch in batches_until_idle(consumer, idle):
            floor = -1 if best is None else best.version
            found = newest_valid(batch, codec, check, floor, time.time_ns() // 1000, refused)
            best = found or best
    finally:
        consumer.close()
    return best
