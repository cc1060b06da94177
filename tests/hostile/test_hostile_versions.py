"""Anything on the model topic, through inference's version reader: only trusted versions serve."""

from __future__ import annotations

import dataclasses
import threading

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.inference.model_slot import ModelSlot, VersionReader
from queen.model import initial_model
from runtime.model_versions import VersionCheck
from runtime.signing import Signer
from schemas.codec import AvroSingleObjectCodec, load_schema
from schemas.records import ModelVersion
from tests import keys, samples
from tests.fakes import MessageStub
from tests.hostile.strategies import extremes, mutations, random_bytes

CODEC = AvroSingleObjectCodec.default()
TRUSTED = keys.signer()
ATTACKER = Signer(Ed25519PrivateKey.generate())


class Letters:
    def __init__(self) -> None:
        self.letters: list[tuple[int, str]] = []

    def publish(self, message, error, kind=None) -> None:
        self.letters.append((message.offset(), getattr(error, "reason", "?")))


class Feed:
    """A consumer handing out one batch of messages."""

    def __init__(self, messages: list[MessageStub]) -> None:
        self.messages = messages

    def consume(self, _n: int, _timeout: float) -> list[MessageStub]:
        out, self.messages = self.messages, []
        return out


def forgeries(n: int) -> st.SearchStrategy[bytes]:
    """Versions an attacker can write: unsigned, own key, our key id with its signature, jumps."""
    version = samples.loadable_version(n, seed=7)
    ours = TRUSTED.sign(version)
    theirs = ATTACKER.sign(dataclasses.replace(version, version=n + 60))
    return st.sampled_from(
        [
            CODEC.encode(version),  # unsigned
            CODEC.encode(theirs),  # signed, by a key nobody trusts
            CODEC.encode(dataclasses.replace(theirs, key_id=TRUSTED.key_id)),  # looks like ours
            CODEC.encode(dataclasses.replace(ours, version=2**40)),  # ours, number changed
            CODEC.encode(dataclasses.replace(ours, weights=ours.weights[:-1] + b"\x00")),
            CODEC.encode(TRUSTED.sign(dataclasses.replace(version, version=2**50))),  # a jump
        ]
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_only_versions_signed_by_a_trusted_key_are_served_whatever_else_arrives(data):
    good = [TRUSTED.sign(samples.loadable_version(n, seed=n)) for n in (3, 9)]
    valid = CODEC.encode(good[0])
    hostile = data.draw(
        st.lists(
            random_bytes
            | mutations(valid)
            | extremes(good[0], load_schema(ModelVersion), 0)
            | forgeries(10),
            max_size=10,
        )
    )
    values = [*hostile, CODEC.encode(good[0]), *hostile, CODEC.encode(good[1])]
    order = data.draw(st.permutations(values))
    messages = [MessageStub("models", v, 0, i) for i, v in enumerate(order)]
    slot = ModelSlot(initial_model(0))
    letters = Letters()
    check = VersionCheck("queen", keys.verifier())
    reader = VersionReader(Feed(messages), "models", slot, CODEC, check, threading.Event(), letters)
    reader.read_once()  # never raises, whatever the bytes
    assert slot.current.version == 9, "the newest trusted version is served, nothing else"
    trusted = {CODEC.encode(g) for g in good}
    for offset, _reason in letters.letters:
        assert order[offset] not in trusted
