"""The topics of the loop, their idempotent creation, and a check of their layout.

The territory-keyed topics (observations, decisions, rewards, experiences) are co-partitioned:
the joiner relies on partition i of decisions and rewards holding the same territories. So
`ensure_topics` refuses to go on when they already exist with different partition counts, and
`check_layout` refuses an existing layout that would break the loop silently: co-partitioned
topics of unequal counts, a model-versions, rules or promotions topic with several partitions
or without compaction. Clients never create topics by naming them (runtime/kafka.py), so a
topic is only ever created here, with its spec. Run `python -m runtime.topics` to create and
check them (make run, a Kubernetes job); `--check` only checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from runtime.errors import TopicMismatchError
from runtime.kafka import make_admin
from runtime.settings import KafkaSettings, TopicSettings

logger = logging.getLogger(__name__)

OBSERVATIONS = "observations"
DECISIONS = "decisions"
REWARDS = "rewards"
EXPERIENCES = "experiences"
MODEL_VERSIONS = "model-versions"
RULES = "rules"
DEAD_LETTERS = "dead-letters"
PROMOTIONS = "promotions"
CO_PARTITIONED = (OBSERVATIONS, DECISIONS, REWARDS, EXPERIENCES)

WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partition count, topic configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    co_partitioned: bool = False
    replication_factor: int = 1


def topic_specs(settings: KafkaSettings, replication_factor: int = 1) -> list[TopicSpec]:
    """Return every topic of the loop for `settings` (prefix, partition count).

    Experiences keep a week: the trainer rebuilds its replay buffer (10,000 experiences) from
    the tail of the topic on restart, and a week holds far more than that at any load.
    With `replication_factor` > 1, `min.insync.replicas` is one less (at most 2), so acks=all
    writes survive the loss of one broker without stopping on it.
    """
    keyed = {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)}
    specs = [
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
            settings.topic(RULES),
            1,
            {
                # One rule set per rules version, kept forever: a reader that starts today
                # still learns every version observations may name.
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": str(3600 * 1000),
            },
        ),
        TopicSpec(
            settings.topic(PROMOTIONS),
            1,
            {
                # Keep the latest promotion per model name: it carries the version it serves.
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": str(3600 * 1000),
                "max.message.bytes": str(17 * 1024 * 1024),
            },
        ),
        TopicSpec(
            settings.topic(DEAD_LETTERS),
            1,
            {"cleanup.policy": "delete", "retention.ms": str(WEEK_MS)},
        ),
    ]
    if replication_factor == 1:
        return specs
    isr = {"min.insync.replicas": str(min(2, replication_factor - 1))}
    return [
        dataclasses.replace(s, replication_factor=replication_factor, config={**s.config, **isr})
        for s in specs
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
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=s.replication_factor,
                config=s.config,
            )
            for s in missing
        ],
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


def check_layout(admin: AdminClient, specs: Sequence[TopicSpec], timeout: float = 15.0) -> None:
    """Raise TopicMismatchError naming an existing topic whose layout would break the loop.

    Co-partitioned topics must have equal partition counts; a topic whose spec has one
    partition (model versions, dead letters) must have one; a topic whose spec compacts must
    have `cleanup.policy=compact` (Tansu reports the policy it was created with, though it does
    not compact). Missing topics are left to `ensure_topics`.
    """
    existing = existing_partitions(admin, timeout)
    check_co_partitioning(existing, specs)
    for spec in specs:
        if spec.name in existing and spec.partitions == 1 and existing[spec.name] != 1:
            msg = f"{spec.name} has {existing[spec.name]} partitions: it must have 1"
            raise TopicMismatchError(msg)
    compacted = [s for s in specs if s.config.get("cleanup.policy") == "compact"]
    resources = [ConfigResource("TOPIC", s.name) for s in compacted if s.name in existing]
    if not resources:
        return
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entries = future.result(timeout)
        policy = entries["cleanup.policy"].value if "cleanup.policy" in entries else None
        if policy is None or "compact" not in policy.split(","):
            msg = f"{resource.name} has cleanup.policy={policy}: it must be compact"
            raise TopicMismatchError(msg)


def specs_from_env(environ: dict[str, str] | os._Environ[str]) -> list[TopicSpec]:
    """The loop's topics for the environment's settings (QUEEN_TOPIC_REPLICATION too)."""
    settings = KafkaSettings.from_env(environ)
    return topic_specs(settings, TopicSettings.from_env(environ).replication)


def main(argv: Sequence[str] | None = None) -> int:
    """Create every topic of the loop at KAFKA_BOOTSTRAP_SERVERS, then check their layout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; create nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = KafkaSettings.from_env(os.environ)
    specs = specs_from_env(os.environ)
    admin = make_admin(settings)
    try:
        created = [] if args.check else ensure_topics(admin, specs)
        check_layout(admin, specs)
    except TopicMismatchError as exc:
        logger.error("%s", exc)
        return 2
    except KafkaException as exc:
        logger.error("KAFKA_BOOTSTRAP_SERVERS=%r: %s", settings.bootstrap_servers, exc)
        return 2
    logger.info("topics ready (%d created, layout checked)", len(created))
    return 0


if __name__ == "__main__":
    sys.exit(main())
