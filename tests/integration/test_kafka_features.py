"""What the loop uses of Kafka beyond what Tansu does: aborted transactions and compaction.

These run on a broker that has the features (testcontainers Kafka, or KAFKA_BOOTSTRAP_SERVERS)
and are skipped, saying why, on the embedded broker (Tansu shows aborted records to
read_committed readers and never compacts). The code is correct without them (dedupe by
decision_id, the newest version by number): those paths are tested everywhere else.
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException, TopicPartition

from runtime.kafka import make_admin, make_producer, make_reader, make_transactional_producer
from runtime.model_versions import VersionCheck
from runtime.tail import assign_from_beginning, read_until_idle
from runtime.topics import TopicSpec, ensure_topics, topic_specs
from schemas.codec import AvroSingleObjectCodec
from tests import keys, samples
from tests.integration.kafka_helpers import wait_for
from trainer.publisher import latest_published

pytestmark = [pytest.mark.integration, pytest.mark.needs_kafka_features]
CODEC = AvroSingleObjectCodec.default()


def test_aborted_transactional_records_are_invisible_to_read_committed(kafka, topic_prefix):
    settings = kafka.settings(topic_prefix, partitions=1)
    topic = settings.topic("tx")
    ensure_topics(make_admin(settings), [TopicSpec(topic, 1)])
    producer = make_transactional_producer(settings, f"{topic_prefix}tx")
    producer.begin_transaction()
    producer.produce(topic, b"aborted", b"k")
    producer.abort_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, b"committed", b"k")
    producer.commit_transaction(10)
    reader = make_reader(settings)  # read_committed, as every consumer of the loop
    reader.assign([TopicPartition(topic, 0, 0)])
    values = [m.value() for m in read_until_idle(reader, idle=2.0)]
    reader.close()
    assert values == [b"committed"]


def test_a_zombie_joiner_is_fenced_by_its_successor(kafka, topic_prefix):
    settings = kafka.settings(topic_prefix, partitions=1)
    topic = settings.topic("tx")
    ensure_topics(make_admin(settings), [TopicSpec(topic, 1)])
    zombie = make_transactional_producer(settings, f"{topic_prefix}joiner")
    zombie.begin_transaction()
    zombie.produce(topic, b"zombie", b"k")
    make_transactional_producer(settings, f"{topic_prefix}joiner")  # the restarted joiner
    with pytest.raises(KafkaException):
        zombie.commit_transaction(10)


def test_the_compacted_model_topic_keeps_the_newest_version_and_it_is_resumed_from(
    kafka, topic_prefix
):
    settings = kafka.settings(topic_prefix)
    spec = next(s for s in topic_specs(settings) if s.name.endswith("model-versions"))
    fast = {**spec.config, "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"}
    ensure_topics(make_admin(settings), [TopicSpec(spec.name, 1, fast)])
    producer = make_producer(settings)
    signer = keys.signer()
    for n in range(1, 31):
        producer.produce(
            spec.name, CODEC.encode(signer.sign(samples.loadable_version(n))), b"queen"
        )
        producer.flush(10)

    def records_left() -> int:
        reader = make_reader(settings)
        assign_from_beginning(reader, spec.name)
        n = len(read_until_idle(reader, idle=1.0))
        reader.close()
        return n

    wait_for(lambda: records_left() < 30, 120, "the log cleaner to compact the topic", every=1.0)
    check = VersionCheck("queen", keys.verifier())
    newest = latest_published(make_reader(settings), spec.name, CODEC, check)
    assert newest is not None and newest.version == 30
