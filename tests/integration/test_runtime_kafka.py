"""The runtime against a real broker: codec over Kafka, topics, dead letters, SIGTERM."""

import io
import math
import os
import signal
import subprocess
import sys
import threading

import fastavro
import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from runtime.broker import EmbeddedBroker, answers
from runtime.dead_letter import DeadLetterPublisher
from runtime.errors import TopicMismatchError
from runtime.kafka import make_admin, make_consumer, make_producer
from runtime.loop import Handler, LoopConfig, Outgoing, ServiceLoop
from runtime.metrics import LoopMetrics
from runtime.topics import TopicSpec, ensure_topics, topic_specs
from schemas.codec import MARKER, AvroSingleObjectCodec, load_schema
from schemas.enums import ErrorKind
from schemas.records import DeadLetter, Observation, Reward
from tests import samples
from tests.integration.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration
CODEC = AvroSingleObjectCodec.default()


def test_every_event_type_goes_through_kafka_and_the_codec(kafka, topic_prefix):
    settings = kafka.settings(topic_prefix, partitions=1)
    admin = make_admin(settings)
    sent = {make.__name__: make() for make in samples.ALL}
    ensure_topics(admin, [TopicSpec(settings.topic(name), 1) for name in sent])
    producer = make_producer(settings)
    for name, record in sent.items():
        producer.produce(settings.topic(name), CODEC.encode(record), b"k")
    assert producer.flush(10) == 0
    for name, record in sent.items():
        reader = TopicReader(settings, settings.topic(name), 1)
        (message,) = reader.until(1)
        assert CODEC.decode(message.value(), type(record)) == record
        reader.close()


def test_creating_topics_twice_is_a_no_op_and_mismatches_are_refused(kafka, topic_prefix):
    settings = kafka.settings(topic_prefix, partitions=3)
    admin = make_admin(settings)
    specs = topic_specs(settings)
    created = ensure_topics(admin, specs)
    assert sorted(created) == sorted(spec.name for spec in specs)  # every topic, once
    assert len(created) == 8
    assert ensure_topics(admin, topic_specs(settings)) == []
    metadata = admin.list_topics(timeout=10).topics
    assert len(metadata[settings.topic("rewards")].partitions) == 3
    for single in ("model-versions", "rules", "promotions", "dead-letters"):
        assert len(metadata[settings.topic(single)].partitions) == 1


def test_co_partitioned_topics_with_different_counts_are_refused(kafka, topic_prefix):
    settings = kafka.settings(topic_prefix, partitions=3)
    admin = make_admin(settings)
    ensure_topics(admin, [TopicSpec(settings.topic("decisions"), 2)])
    with pytest.raises(TopicMismatchError, match=r"decisions=2.*observations=3"):
        ensure_topics(admin, topic_specs(settings))
    assert settings.topic("rewards") not in admin.list_topics(timeout=10).topics


class Copy(Handler):
    def __init__(self, out):
        self.out = out

    def handle(self, batch, now):
        return [Outgoing(self.out, b"k", item.record) for item in batch]


def test_bad_records_go_to_dead_letters_with_distinct_reasons_and_good_ones_flow(
    kafka, topic_prefix, unique
):
    settings = kafka.settings(topic_prefix, partitions=1)
    src, out, dead = (settings.topic(n) for n in ("in", "out", "dead"))
    ensure_topics(make_admin(settings), [TopicSpec(t, 1) for t in (src, out, dead)])

    nan_value = samples.observation(seq=2).to_avro() | {"resources": math.nan}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(load_schema(Observation)), nan_value)
    inputs = [
        CODEC.encode(samples.observation(seq=0)),
        b"\x00garbage that is not avro",
        MARKER + bytes.fromhex("deadbeefdeadbeef") + b"\x02",
        MARKER + CODEC.fingerprint(Observation) + body.getvalue(),
        CODEC.encode(samples.observation(seq=4)),
        CODEC.encode(samples.observation(seq=5)),
    ]
    producer = make_producer(settings)
    for value in inputs:
        producer.produce(src, value, b"t-0001")
    producer.flush(10)

    registry = CollectorRegistry()
    metrics = LoopMetrics.create(registry, "it")
    loop_producer = make_producer(settings)
    letters = DeadLetterPublisher(loop_producer, dead, "it", CODEC, metrics.dead_letters)
    loop = ServiceLoop(
        make_consumer(settings, unique("group")),
        loop_producer,
        CODEC,
        {src: Observation},
        Copy(out),
        letters,
        metrics,
        LoopConfig(commit_interval=0.2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        good = TopicReader(settings, out, 1).until(3, timeout=30)
        bad = TopicReader(settings, dead, 1).until(3, timeout=30)
    finally:
        stop.set()
        thread.join(30)
    assert [CODEC.decode(m.value(), Observation).seq for m in good] == [0, 4, 5]
    letters_read = [CODEC.decode(m.value(), DeadLetter) for m in bad]
    assert [(d.offset, d.error_kind) for d in letters_read] == [
        (1, ErrorKind.NOT_SINGLE_OBJECT),
        (2, ErrorKind.UNKNOWN_FINGERPRINT),
        (3, ErrorKind.INVALID_RECORD),
    ]
    assert len({d.message for d in letters_read}) == 3
    assert "deadbeefdeadbeef" in letters_read[1].message
    assert "resources=nan" in letters_read[2].message
    assert letters_read[0].value == inputs[1] and letters_read[0].source_topic == src
    for kind in ("NOT_SINGLE_OBJECT", "UNKNOWN_FINGERPRINT", "INVALID_RECORD"):
        assert (
            registry.get_sample_value("queen_dead_letters_total", {"service": "it", "kind": kind})
            == 1
        )


def _start_app(kafka, src, out, dead, group):
    env = dict(os.environ, LOOP_APP_WORK_SECONDS="0.05")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.loop_app",
            kafka.bootstrap_servers,
            src,
            out,
            dead,
            group,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_commits_what_was_processed_and_restart_neither_skips_nor_repeats(
    kafka, topic_prefix, unique
):
    settings = kafka.settings(topic_prefix, partitions=3)
    src, out, dead = (settings.topic(n) for n in ("in", "out", "dead"))
    ensure_topics(make_admin(settings), [TopicSpec(t, 3) for t in (src, out, dead)])
    total = 300
    producer = make_producer(settings)
    for seq in range(total):
        producer.produce(src, CODEC.encode(samples.reward(seq % 7, seq)), f"t-{seq % 7}".encode())
    producer.flush(10)
    group = unique("group")
    reader = TopicReader(settings, out, 3)

    first = _start_app(kafka, src, out, dead, group)
    reader.until(20, timeout=60)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=30)
    assert first.returncode == 0, stderr
    processed = len(reader.poll())
    assert 20 <= processed < total, "the first run should have been stopped mid-stream"

    probe = make_consumer(settings, group)
    committed = probe.committed([TopicPartition(src, p) for p in range(3)], timeout=10)
    probe.close()
    assert sum(max(tp.offset, 0) for tp in committed) == processed

    second = _start_app(kafka, src, out, dead, group)
    try:
        messages = reader.until(total, timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    seqs = sorted(CODEC.decode(m.value(), Reward).seq for m in messages)
    assert seqs == list(range(total))


def test_embedded_broker_is_reused_when_one_answers(kafka):
    if kafka.kind != "embedded":
        pytest.skip("the session broker is not the embedded one")
    port = int(kafka.bootstrap_servers.rsplit(":", 1)[1])
    again = EmbeddedBroker(port=port).start()
    assert again.reused and again.process is None
    again.stop()
    assert answers(kafka.bootstrap_servers)


def test_embedded_broker_starts_and_stops_on_a_free_port():
    broker = EmbeddedBroker().start()
    try:
        assert not broker.reused and answers(broker.bootstrap_servers)
    finally:
        broker.stop()
    assert not answers(broker.bootstrap_servers, timeout=0.5)


def test_the_layout_check_names_a_model_topic_that_is_partitioned_or_not_compacted(
    kafka, topic_prefix, unique
):
    from runtime.topics import check_layout

    settings = kafka.settings(topic_prefix, partitions=2)
    admin = make_admin(settings)
    ensure_topics(admin, [TopicSpec(settings.topic("model-versions"), 4)])  # as auto-created
    with pytest.raises(TopicMismatchError, match=r"model-versions has 4 partitions"):
        check_layout(admin, topic_specs(settings))
    other = kafka.settings(unique("p") + ".", partitions=2)
    ensure_topics(
        admin, [TopicSpec(other.topic("model-versions"), 1, {"cleanup.policy": "delete"})]
    )
    with pytest.raises(TopicMismatchError, match=r"cleanup.policy=delete: it must be compact"):
        check_layout(admin, topic_specs(other))
    fresh = kafka.settings(unique("q") + ".", partitions=2)
    ensure_topics(admin, topic_specs(fresh))
    check_layout(admin, topic_specs(fresh))
