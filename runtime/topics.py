"""The topics of DESIGN.md, and their idempotent creation.

The territory-keyed topics (observations, decisions, rewards, experiences) are co-partitioned:
the joiner relies on partition i of decisions and rewards holding the same territories. So
`ensure_topics` refuses to go on when they already exist with different partition counts.
Run `python -m runtime.topics` to create them (make run, a Kubernetes job).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from runtime.errors import TopicMismatchError
from runtime.kafka import make_admin
from runtime.settings import KafkaSettings

logger = logging.getLogger(__name__)

OBSERVATIONS = "observations"
DECISIONS = "decisions"
REWARDS = "rewards"
EXPERIENCES = "experiences"
MODEL_VERSIONS = "model-versions"
DEAD_LETTERS = "dead-letters"
CO_PARTITIONED = (OBSERVATIONS, DECISIONS, REWARDS, EXPERIENCES)

WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partition count, topic configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    co_partitioned: bool = False


def topic_specs(settings: KafkaSettings, replication_factor: int = 1) -> list[TopicSpec]:
    """Return every topic of the loop for `settings` (prefix, partition count).

    Experiences keep a week: the trainer rebuilds its replay buffer (10,000 experiences) from
    the tail of the topic on restart, and a week holds far more than that at any load.
    """
    del replication_factor  # set per cluster in deploy/k8s/topics; 1 here
    keyed = {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)}
    return [
        TopicSpec(settings.topic(OBSERVATIONS), settings.partitions, keyed, True),
        TopicSpec(settings.topic(DECISIONS), settings.partitions, keyed, True),
        TopicSpec(settings.topic(REWARDS), settings.partitions, keyed, True),
        TopicSpec(
            settings.topic(EXPERIENCES),
            settings.partitions,
            {"cleanup.policy": "delete", "retention.ms": str(WEEK_MS)},
            True,
        ),
        TopicSpec(
            settings.topic(MODEL_VERSIONS),
            1,
            {
                # Keep the latest version per model name; readers still take the newest.
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": str(3600 * 1000),
                "max.message.bytes": str(16 * 1024 * 1024),
            },
        ),
        TopicSpec(
            settings.topic(DEAD_LETTERS),
            1,
            {"cleanup.policy": "delete", "retention.ms": str(WEEK_MS)},
        ),
    ]


def check_co_partitioning(existing: dict[str, int], specs: Sequence[TopicSpec]) -> None:
    """Raise TopicMismatchError when existing co-partitioned topics differ in partitions.

    `existing` maps topic name to partition count for the topics that already exist. Topics
    still to be created get the spec's count, which must then match the existing ones too.
    """
    counts = {
        spec.name: existing.get(spec.name, spec.partitions) for spec in specs if spec.co_partitioned
    }
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{name}={n}" for name, n in sorted(counts.items()))
        msg = f"co-partitioned topics must have equal partition counts, found {listing}"
        raise TopicMismatchError(msg)


def existing_partitions(admin: AdminClient, timeout: float = 10.0) -> dict[str, int]:
    """Return the partition count of every topic the cluster has."""
    metadata = admin.list_topics(timeout=timeout)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def ensure_topics(
    admin: AdminClient, specs: Sequence[TopicSpec], timeout: float = 15.0
) -> list[str]:
    """Create the topics of `specs` that do not exist; return the names created.

    Idempotent: a second call creates nothing. Raises TopicMismatchError (before creating
    anything) when co-partitioned topics would end up with different partition counts.
    """
    existing = existing_partitions(admin, timeout)
    check_co_partitioning(existing, specs)
    missing = [spec for spec in specs if spec.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, config=s.config) for s in missing],
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
            logger.info("created topic %s", name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def main(argv: Sequence[str] | None = None) -> int:
    """Create every topic of the loop at KAFKA_BOOTSTRAP_SERVERS."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = KafkaSettings.from_env(os.environ)
    try:
        created = ensure_topics(make_admin(settings), topic_specs(settings))
    except TopicMismatchError as exc:
        logger.error("%s", exc)
        return 2
    logger.info("topics ready (%d created)", len(created))
    return 0


if __name__ == "__main__":
    sys.exit(main())
