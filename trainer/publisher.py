"""Model versions: building the ModelVersion record of a step, finding the latest published."""

from __future__ import annotations

import logging
import time
from typing import Any

from queen.features import FEATURE_FINGERPRINT
from queen.model import ARCHITECTURE_FINGERPRINT, QueenNN
from queen.weights import sha256_hex, to_safetensors
from runtime.tail import assign_from_beginning, read_until_idle
from schemas.codec import Codec
from schemas.errors import SchemaError
from schemas.records import ModelVersion, TrainingSummary
from trainer.learner import StepOutcome

logger = logging.getLogger(__name__)


def model_version(
    model_name: str, model: QueenNN, outcome: StepOutcome, first_use: tuple[int, ...] = ()
) -> ModelVersion:
    """Return the ModelVersion record of the model after `outcome`.

    `first_use`: reward times of the experiences this step trained on for the first time.
    """
    weights = to_safetensors(model)
    return ModelVersion(
        model_name=model_name,
        version=outcome.version,
        parent_version=outcome.parent_version,
        created_at=time.time_ns() // 1000,
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
        ),
    )


def latest_published(
    consumer: Any, topic: str, model_name: str, codec: Codec, idle: float = 1.0
) -> ModelVersion | None:
    """Return the newest version of `model_name` on `topic` (read until idle), or None.

    The newest is the highest version number, not the last record: the topic may be compacted
    or not (Tansu does not compact), and either way the highest number wins.
    """
    assign_from_beginning(consumer, topic)
    best: ModelVersion | None = None
    try:
        for message in read_until_idle(consumer, idle):
            try:
                version = codec.decode(message.value() or b"", ModelVersion)
            except SchemaError as exc:
                logger.warning("unreadable model version at offset %s: %s", message.offset(), exc)
                continue
            if version.model_name == model_name and (
                best is None or version.version > best.version
            ):
                best = version
    finally:
        consumer.close()
    return best
