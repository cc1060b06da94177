"""Where a (re)started trainer picks up: weights, version number, and how far it had read.

It resumes from the newer of its last checkpoint and the latest *trusted* version on the model
topic (signed by a trusted key: a forged version on the topic is never resumed from). With the
weights come the experiences-topic offsets they were trained up to: the trainer reads on from
exactly there, and refills its buffer from the records just before, so every experience enters
the buffer as new once across any number of crashes. Offsets recorded against another topic id
(the topic was deleted and created again, the broker restarted empty) mean nothing and are
dropped: the trainer then starts at the group's committed offsets, or at the beginning.
Version numbers go on from the highest ever reserved (trainer/checkpoint.py), so none is reused
even when the version last reserved never reached the broker or the broker lost the topic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from queen.model import initial_model
from queen.weights import load_weights
from schemas.records import ModelVersion
from trainer.checkpoint import Checkpoint, load_latest, reserved_version
from trainer.learner import Learner
from trainer.settings import ContinuousTrainingConfig

logger = logging.getLogger(__name__)


@dataclass
class ResumePoint:
    """What the trainer starts from."""

    learner: Learner  # its `version` is the highest version number ever reserved
    weights_version: int  # the version the learner's weights are
    # partition -> next offset to read; None when there is no valid record of it (a fresh
    # start, a version from before offsets were recorded, another topic id)
    offsets: dict[int, int] | None = None
    source: str = "initial"  # "checkpoint", "published" or "initial"


def resume(
    config: ContinuousTrainingConfig,
    checkpoint_dir: str,
    published: ModelVersion | None,
    topic_id: str,
) -> ResumePoint:
    """Choose the newer of the checkpoint and `published`; keep offsets only for `topic_id`."""
    checkpoint: Checkpoint | None = load_latest(checkpoint_dir) if checkpoint_dir else None
    floor = reserved_version(checkpoint_dir) if checkpoint_dir else 0
    if checkpoint is not None and (published is None or checkpoint.version >= published.version):
        learner = Learner(
            checkpoint.model,
            config,
            checkpoint.version,
            checkpoint.step,
            checkpoint.optimizer_state,
        )
        point = ResumePoint(learner, checkpoint.version, source="checkpoint")
        recorded_id, offsets = checkpoint.input_topic_id, checkpoint.input_offsets
    elif published is not None:
        model = load_weights(
            published.weights,
            published.sha256,
            published.architecture_fingerprint,
            published.feature_fingerprint,
        )
        t = published.training
        learner = Learner(model, config, published.version, t.step if t else 0)
        point = ResumePoint(learner, published.version, source="published")
        recorded_id = t.input_topic_id if t else ""
        offsets = {p.partition: p.offset for p in t.input_offsets} if t else {}
    else:
        return ResumePoint(Learner(initial_model(config.seed), config), 0)
    if recorded_id == topic_id and recorded_id:
        point.offsets = dict(offsets)
    elif offsets:
        logger.warning(
            "offsets of version %d were for experiences topic id %s, not %s: not used",
            point.weights_version,
            recorded_id or "<unknown>",
            topic_id,
        )
    point.learner.version = max(point.learner.version, floor)
    logger.info(
        "resuming from %s version %d (numbering on from %d), %d partition offsets",
        point.source,
        point.weights_version,
        point.learner.version,
        len(point.offsets or {}),
    )
    return point
