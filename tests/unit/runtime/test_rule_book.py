"""The rule book: first valid rule set per version wins; bad bytes and strangers are refused."""

import dataclasses
import threading

import pytest
from prometheus_client import CollectorRegistry

from queen.rules import RULES_V1, RULES_V2
from runtime.rule_book import (
    RuleBook,
    RuleBookMetrics,
    RuleReader,
    RuleRejection,
    record_of,
    rules_key,
    rules_of,
)
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import ErrorKind
from tests import samples
from tests.fakes import MessageStub, ScriptedConsumer

CODEC = AvroSingleObjectCodec.default()


def message(record, offset=0, key=None, value=None):
    key = rules_key(record.rules_version) if key is None else key
    return MessageStub("q.rules", CODEC.encode(record) if value is None else value, 0, offset, key)


class Letters:
    def __init__(self):
        self.sent = []

    def publish(self, message, error, kind=None):
        self.sent.append((message.offset(), kind, str(error)))


def book_with_metrics():
    registry = CollectorRegistry()
    return RuleBook(RuleBookMetrics.create(registry, "inference")), registry


def refused(registry, reason):
    labels = {"service": "inference", "reason": reason}
    return registry.get_sample_value("queen_rules_refused_total", labels)


def test_a_record_becomes_the_domain_rule_set_and_back():
    assert rules_of(record_of(RULES_V2, "game", 5)) == RULES_V2
    assert rules_of(samples.rule_set(1)) == RULES_V1


def test_the_first_valid_rule_set_of_a_version_wins_and_a_rewrite_is_refused():
    book, registry = book_with_metrics()
    first = samples.rule_set(2)
    assert book.offer(first) is True
    assert book.offer(dataclasses.replace(first, publisher="replay", published_at=9)) is False
    forged = dataclasses.replace(first, kill=(1.0, 1.0, 1.0, 1.0), publisher="stranger")
    with pytest.raises(RuleRejection, match="immutable per version") as caught:
        book.offer(forged)
    assert caught.value.reason == "conflict"
    assert book.get(2) == RULES_V2
    assert registry.get_sample_value("queen_rules_known", {"service": "inference"}) == 1


def test_the_known_rules_are_swapped_whole_and_never_mutated():
    book = RuleBook()
    before = book.known
    book.offer(samples.rule_set(1))
    assert before.rules == {} and book.known is not before
    with pytest.raises(TypeError):
        book.known.rules[5] = RULES_V1  # type: ignore[index]


def test_versions_read_out_of_order_are_all_kept_and_newest_is_the_highest():
    book = RuleBook()
    for version in (3, 1, 2):
        book.offer(samples.rule_set(version))
    assert sorted(book.known.rules) == [1, 2, 3]
    assert book.known.newest is not None and book.known.newest.version == 3


def test_the_reader_learns_valid_rule_sets_and_dead_letters_everything_else():
    book, registry = book_with_metrics()
    letters = Letters()
    v1, v2 = samples.rule_set(1), samples.rule_set(2)
    batch = [
        message(v1, 0),
        MessageStub("q.rules", b"\x00garbage", 0, 1, b"7"),
        MessageStub("q.rules", None, 0, 2, b"8"),  # a tombstone
        message(v2, 3, key=b"1"),  # key and version disagree
        message(dataclasses.replace(v1, cost=(0.0, 0.0, 0.0, 0.0)), 4),  # rewrite of 1
        message(v2, 5),
        MessageStub("q.rules", CODEC.encode(samples.observation()), 0, 6, b"9"),  # other type
    ]
    stop = threading.Event()
    reader = RuleReader(ScriptedConsumer([batch]), "q.rules", book, CODEC, stop, letters)
    assert reader.read_once() == 5
    assert book.get(1) == RULES_V1 and book.get(2) == RULES_V2
    assert [offset for offset, _, _ in letters.sent] == [1, 2, 3, 4, 6]
    kinds = {offset: kind for offset, kind, _ in letters.sent}
    assert kinds[1] is ErrorKind.NOT_SINGLE_OBJECT and kinds[4] is ErrorKind.INVALID_EVENT
    assert refused(registry, "undecodable") == 3
    assert refused(registry, "key") == 1 and refused(registry, "conflict") == 1


def test_the_reader_thread_outlives_a_failing_batch_and_stops_on_the_flag():
    book = RuleBook()
    stop = threading.Event()

    class Flaky(ScriptedConsumer):
        calls = 0

        def list_topics(self, topic, timeout):
            class Meta:
                topics = {topic: type("T", (), {"partitions": {0: None}})()}

            return Meta()

        def assign(self, partitions):
            pass

        def consume(self, num, timeout):
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("client hiccup")
            return super().consume(num, timeout)

    consumer = Flaky([[message(samples.rule_set(1))]])
    reader = RuleReader(consumer, "q.rules", book, CODEC, stop)
    reader.start()
    assert book.wait_for(1, 10.0)
    stop.set()
    reader.join(5)
    assert not reader.is_alive() and consumer.closed and reader.failures == 1


def test_wait_for_returns_false_at_its_deadline():
    assert RuleBook().wait_for(4, 0.01) is False


def test_no_bytes_on_the_rules_topic_raise_and_only_valid_rule_sets_are_learnt():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    good = CODEC.encode(samples.rule_set(3))

    @st.composite
    def mutated(draw):
        data = bytearray(good)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        return bytes(data[:cut]) if draw(st.booleans()) else bytes(data)

    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(st.binary(max_size=300), mutated()), st.one_of(st.none(), st.binary(max_size=8))
    )
    def check(value, key):
        book = RuleBook()
        rejection = book.read(MessageStub("q.rules", value, 0, 0, key), CODEC)
        if rejection is None:
            (version,) = book.known.records
            book.known.records[version].validate()
            assert key == rules_key(version)
        else:
            assert rejection.reason in ("undecodable", "key") and book.known.rules == {}

    check()


def test_with_trusted_rule_keys_only_rule_sets_signed_by_one_are_learnt():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from runtime.rule_signing import sign_rules
    from runtime.signing import Verifier, key_id

    game, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    public = game.public_key()
    registry = CollectorRegistry()
    book = RuleBook(
        RuleBookMetrics.create(registry, "inference"),
        verifier=Verifier({key_id(public): public}),
    )
    unsigned = samples.rule_set(1)
    tampered = dataclasses.replace(sign_rules(game, samples.rule_set(2)), kill=(1.0,) * 4)
    batch = [
        message(unsigned, 0),
        message(sign_rules(stranger, samples.rule_set(1)), 1),
        message(tampered, 2),
        message(sign_rules(game, samples.rule_set(2, note="unsigned note")), 3),
    ]
    reader = RuleReader(ScriptedConsumer([batch]), "q.rules", book, CODEC, threading.Event())
    assert reader.read_once() == 3
    assert sorted(book.known.rules) == [2] and book.get(2) == RULES_V2
    for reason in ("unsigned", "unknown_key", "bad_signature"):
        assert refused(registry, reason) == 1, reason
    # the note is not signed: another note, same numbers, same signature is the same rule set
    assert (
        book.read(message(dataclasses.replace(book.known.records[2], note="x"), 4), CODEC) is None
    )


def test_the_game_signs_the_rules_it_publishes_when_given_a_key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from producers.game.rules import RulesAnnouncer
    from runtime.rule_signing import verify_rules
    from runtime.signing import Verifier, key_id

    key = Ed25519PrivateKey.generate()
    (out,) = RulesAnnouncer("rules", key=key).announce(RULES_V1)
    verify_rules(Verifier({key_id(key.public_key()): key.public_key()}), out.record)
    assert CODEC.decode(CODEC.encode(out.record), type(out.record)) == out.record
