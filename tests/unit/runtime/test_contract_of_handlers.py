"""The handler contract and what the loop does with a handler that raises."""

import pytest
from prometheus_client import CollectorRegistry

from runtime.dead_letter import DeadLetterPublisher
from runtime.handler import Handler, Incoming, Outgoing, RecordHandler
from runtime.loop import LoopConfig, ServiceLoop
from runtime.metrics import LoopMetrics
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import ErrorKind
from schemas.records import DeadLetter, Reward
from tests import samples
from tests.fakes import MessageStub, RecordingProducer, ScriptedConsumer

CODEC = AvroSingleObjectCodec.default()


@pytest.mark.parametrize("name", ["on_tik", "commit_position", "handle_batch", "on_revoked"])
def test_a_method_named_like_a_hook_but_none_is_refused_when_the_class_is_defined(name):
    with pytest.raises(TypeError, match=name):
        type("Typo", (Handler,), {name: lambda self: None})


def test_real_hooks_and_other_methods_are_fine():
    class Fine(RecordHandler):
        def handle_record(self, item, now):
            return []

        def on_tick(self, now):
            return []

        def checkpoint(self):
            pass

    assert Fine().commit_positions({("t", 0): 5}) == {("t", 0): 5}


class Brittle(Handler):
    """Raises on any batch holding seq 13 (a record that kills a batch handler)."""

    def __init__(self):
        self.calls = 0

    def handle(self, batch, now):
        self.calls += 1
        if any(i.record.seq == 13 for i in batch):
            raise ValueError("seq 13")
        return [Outgoing("out", b"k", i.record) for i in batch]


def test_a_batch_whose_handler_raises_is_split_until_the_record_is_isolated():
    messages = [MessageStub("in", CODEC.encode(samples.reward(1, s)), 0, s) for s in range(10, 18)]
    producer, handler = RecordingProducer(), Brittle()
    metrics = LoopMetrics.create(registry := CollectorRegistry(), "t")
    loop = ServiceLoop(
        ScriptedConsumer([messages]),
        producer,
        CODEC,
        {"in": Reward},
        handler,
        DeadLetterPublisher(producer, "dead", "t", CODEC, metrics.dead_letters),
        metrics,
        LoopConfig(commit_interval=1e9),
    )
    loop.run_once()
    out = [CODEC.decode(v, Reward).seq for t, _, v in producer.produced if t == "out"]
    dead = [CODEC.decode(v, DeadLetter) for t, _, v in producer.produced if t == "dead"]
    assert out == [10, 11, 12, 14, 15, 16, 17], "everything else handled once, in order"
    assert [(d.offset, d.error_kind) for d in dead] == [(13, ErrorKind.PROCESSING_ERROR)]
    assert "seq 13" in dead[0].message
    assert registry.get_sample_value("queen_handler_errors_total", {"service": "t"}) == 1
    labels = {"service": "t", "reason": "processing_error"}
    assert registry.get_sample_value("queen_records_rejected_total", labels) == 1
    assert handler.calls <= 2 * 3 + 1, "a split, not a retry per record"


def test_a_record_handler_rejects_only_the_record_that_raises():
    class OneByOne(RecordHandler):
        def handle_record(self, item, now):
            if item.record.seq == 2:
                raise KeyError("boom")
            return [Outgoing("out", b"k", item.record)]

    batch = [Incoming(samples.reward(1, s), MessageStub("in", b"", 0, s)) for s in range(4)]
    out = OneByOne().handle(batch, 0.0)
    assert [type(o).__name__ for o in out] == ["Outgoing", "Outgoing", "Rejected", "Outgoing"]
    assert out[2].kind is ErrorKind.PROCESSING_ERROR
