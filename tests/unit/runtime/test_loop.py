"""The loop's logic with fakes: decode, dead letters, handler output, commit after flush."""

import threading

from prometheus_client import CollectorRegistry

from runtime.dead_letter import DeadLetterPublisher
from runtime.health import Heartbeat, is_fresh
from runtime.loop import Handler, Incoming, LoopConfig, Outgoing, Rejected, ServiceLoop
from runtime.metrics import LoopMetrics
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import ErrorKind
from schemas.records import DeadLetter, Reward
from tests.fakes import MessageStub, RecordingProducer, ScriptedConsumer

CODEC = AvroSingleObjectCodec.default()


def reward(seq: int) -> Reward:
    return Reward("t-0001", seq, 1000 * seq, 0, 1, 0.5, {"gain": 0.5})


class EchoHandler(Handler):
    """Re-emits every reward to 'out'; rejects seq 13."""

    def handle(self, batch: list[Incoming], now: float):
        for item in batch:
            if item.record.seq == 13:
                yield Rejected(item, ValueError("unlucky seq"))
            else:
                yield Outgoing("out", b"k", item.record)


def make_loop(batches, handler=None):
    registry = CollectorRegistry()
    metrics = LoopMetrics.create(registry, "test")
    producer = RecordingProducer()
    consumer = ScriptedConsumer(batches)
    dead = DeadLetterPublisher(producer, "dead", "test", CODEC, metrics.dead_letters)
    loop = ServiceLoop(
        consumer,
        producer,
        CODEC,
        {"in": Reward},
        handler or EchoHandler(),
        dead,
        metrics,
        LoopConfig(commit_interval=3600),
    )
    return loop, consumer, producer, registry


def test_bad_records_become_dead_letters_and_good_ones_flow_on():
    messages = [
        MessageStub("in", CODEC.encode(reward(1)), 0, 0),
        MessageStub("in", b"not avro", 0, 1),
        MessageStub("in", CODEC.encode(reward(13)), 0, 2),
        MessageStub("in", CODEC.encode(reward(2)), 0, 3),
    ]
    loop, consumer, producer, registry = make_loop([messages])
    loop.run_once()
    loop.commit()

    out = [CODEC.decode(v, Reward).seq for t, _, v in producer.produced if t == "out"]
    assert out == [1, 2]
    letters = [CODEC.decode(v, DeadLetter) for t, _, v in producer.produced if t == "dead"]
    assert [(d.offset, d.error_kind) for d in letters] == [
        (1, ErrorKind.NOT_SINGLE_OBJECT),
        (2, ErrorKind.INVALID_EVENT),
    ]
    assert letters[0].value == b"not avro" and "unlucky seq" in letters[1].message
    assert consumer.commits == [{("in", 0): 4}]
    assert (
        registry.get_sample_value(
            "queen_dead_letters_total", {"service": "test", "kind": "INVALID_EVENT"}
        )
        == 1
    )


def test_commit_comes_after_flush_and_only_when_offsets_moved():
    loop, consumer, producer, _ = make_loop([[MessageStub("in", CODEC.encode(reward(1)), 2, 9)]])
    loop.run_once()
    assert producer.flushes == 0 and consumer.commits == []
    loop.commit()
    assert producer.flushes == 1 and consumer.commits == [{("in", 2): 10}]
    loop.commit()
    assert consumer.commits == [{("in", 2): 10}]


def test_handler_may_hold_back_offsets():
    class HoldBack(EchoHandler):
        def commit_positions(self, positions):
            return {tp: off - 1 for tp, off in positions.items()}

    batch = [MessageStub("in", CODEC.encode(reward(s)), 0, s) for s in range(3)]
    loop, consumer, _, _ = make_loop([batch], HoldBack())
    loop.run_once()
    loop.commit()
    assert consumer.commits == [{("in", 0): 2}]


def test_run_stops_on_the_flag_commits_and_closes():
    stop = threading.Event()
    batches = [[MessageStub("in", CODEC.encode(reward(1)), 0, 0)]]

    class StopAfterFirst(EchoHandler):
        def handle(self, batch, now):
            stop.set()
            return super().handle(batch, now)

    loop, consumer, _, _ = make_loop(batches, StopAfterFirst())
    loop.run(stop)
    assert consumer.closed and consumer.subscribed == ["in"]
    assert consumer.commits == [{("in", 0): 1}]


def test_heartbeat_file_is_touched_and_checked(tmp_path):
    path = tmp_path / "beat"
    assert not is_fresh(str(path), 30)
    Heartbeat(str(path)).beat()
    assert is_fresh(str(path), 30)
    assert not is_fresh(str(path), 30, now=path.stat().st_mtime + 31)
