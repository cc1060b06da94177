"""The trainer's handler: cadence, overruns, dedupe, versions published."""

import dataclasses

from prometheus_client import CollectorRegistry

from queen.model import initial_model
from runtime.loop import Incoming
from schemas.records import ModelVersion
from tests import keys, samples
from tests.fakes import MessageStub
from trainer.buffer.buffer import make_buffer
from trainer.learner import Learner
from trainer.metrics import TrainerMetrics
from trainer.service import TrainerHandler
from trainer.settings import ContinuousTrainingConfig

REWARD_TIME = 1_700_000_000_000_000


def handler(
    interval: float, known_reward_times: int = 40
) -> tuple[TrainerHandler, CollectorRegistry]:
    config = ContinuousTrainingConfig(training_interval=interval, min_batch_size=8)
    registry = CollectorRegistry()
    h = TrainerHandler(
        Learner(initial_model(0), config),
        make_buffer(config),
        config,
        "models",
        keys.signer(),
        TrainerMetrics.create(registry),
    )
    experiences = []
    for i in range(40):
        e = samples.experience(i % 8, i)
        experiences.append(
            dataclasses.replace(
                e,
                decision=dataclasses.replace(e.decision, decision_id=f"d{i}"),
                reward_emitted_at=REWARD_TIME + i if i < known_reward_times else None,
            )
        )
    batch = [Incoming(e, MessageStub("x", b"", 0, i)) for i, e in enumerate(experiences)]
    h.handle(batch + batch[:5], samples.GAME_START_MS / 1000)  # five duplicates
    return h, registry


def test_experiences_are_taken_once_and_each_step_publishes_the_next_version():
    h, registry = handler(interval=3600.0)
    assert registry.get_sample_value("queen_trainer_experiences_taken_total") == 40
    assert registry.get_sample_value("queen_trainer_duplicate_experiences_total") == 5
    (out,) = h.on_tick(0.0)
    assert isinstance(out.record, ModelVersion) and out.record.version == 1
    assert out.topic == "models" and out.key == b"queen"
    assert (
        out.record.training.batch_size == 40 and out.record.parent_version == 0
    )  # all 40: < 32 x 10
    assert h.on_tick(0.0) == [], "the next step waits for the interval"
    assert registry.get_sample_value("queen_trainer_overruns_total") == 0


def test_an_overrun_is_counted_and_the_next_step_starts_at_once():
    h, registry = handler(interval=1e-9)  # every step takes longer than the interval
    versions = [h.on_tick(0.0)[0].record.version for _ in range(3)]
    assert versions == [1, 2, 3]
    assert registry.get_sample_value("queen_trainer_overruns_total") == 3
    assert registry.get_sample_value("queen_trainer_batches_trained_total") == 3
    assert registry.get_sample_value("queen_trainer_utilization_ratio") == 1.0


def test_each_reward_time_is_published_once_by_the_step_that_first_trained_on_it():
    h, _ = handler(interval=0.0, known_reward_times=30)  # ten rewards without a known time
    listed = []
    for _ in range(40):
        (out,) = h.on_tick(0.0)
        listed += out.record.training.first_use_reward_emitted_at
    assert len(listed) == len(set(listed)), "a reward is first used by one step only"
    # 40 steps of 32 from 40 rows: every row has been trained on
    assert sorted(listed) == [REWARD_TIME + i for i in range(30)]
    (out,) = h.on_tick(0.0)
    assert out.record.training.first_use_reward_emitted_at == ()


def test_an_experience_stamped_years_ahead_is_refused_and_training_goes_on():
    h, registry = handler(interval=0.0)
    e = samples.experience(3, 99)
    ahead = dataclasses.replace(
        e.decision, decision_id="ahead", event_time=e.decision.event_time + 10 * 365 * 86400_000
    )
    (rejected,) = h.handle(
        [Incoming(dataclasses.replace(e, decision=ahead), MessageStub("x", b"", 0, 99))],
        samples.GAME_START_MS / 1000,
    )
    assert rejected.reason == "event_time_ahead"
    versions = [h.on_tick(0.0)[0].record.version for _ in range(3)]
    assert versions == [1, 2, 3], "the buffer's rows stay eligible: training goes on"


def test_the_gate_follows_rules_from_the_rule_book_as_soon_as_it_knows_them():
    from queen.rules import RULES_V1, RULES_V2
    from runtime.rule_book import RuleBook, record_of

    config = ContinuousTrainingConfig(training_interval=3600.0, min_batch_size=8)
    book = RuleBook.of({1: RULES_V1})
    h = TrainerHandler(
        Learner(initial_model(0), config),
        make_buffer(config),
        config,
        "models",
        keys.signer(),
        book=book,
    )
    e = samples.experience(1, 0)
    patched = dataclasses.replace(
        e, decision=dataclasses.replace(e.decision, rules_version=2, decision_id="d2")
    )
    h.handle([Incoming(e, MessageStub("x", b"", 0, 0))], samples.GAME_START_MS / 1000)
    assert h.gate.rules == RULES_V1 and h.rules_version == 1
    h.handle([Incoming(patched, MessageStub("x", b"", 0, 1))], samples.GAME_START_MS / 1000)
    assert h.gate.rules == RULES_V1, "version 2 is not in the book yet: the gate stays"
    book.offer(record_of(RULES_V2, "game", 1))
    h.on_tick(0.0)
    assert h.gate.rules == RULES_V2 and h.rules_version == 2
