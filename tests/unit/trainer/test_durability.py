import threading
import time

import torch

from queen.gate import SimulationGate
from queen.model import initial_model
from queen.rules import RULES_V1
from tests.unit.trainer.test_training import make_batch
from trainer.checkpoint import load_latest, save_checkpoint
from trainer.learner import Learner
from trainer.settings import ContinuousTrainingConfig
from trainer.watchdog import EXIT_STALLED, Watchdog


def test_a_checkpoint_resumes_training_exactly_where_it_stopped(tmp_path):
    config = ContinuousTrainingConfig()
    gate, batch = SimulationGate(RULES_V1), make_batch()
    a = Learner(initial_model(0), config)
    for _ in range(5):
        a.step(batch, gate)
    save_checkpoint(tmp_path, a.model, a.optimizer, a.version, a.steps)
    ckpt = load_latest(tmp_path)
    assert (ckpt.version, ckpt.step) == (5, 5)
    b = Learner(ckpt.model, config, ckpt.version, ckpt.step, ckpt.optimizer_state)
    next_a, next_b = a.step(batch, gate), b.step(batch, gate)
    assert next_a.version == next_b.version == 6
    for (name, x), y in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name  # same weights AND same optimizer moments


def test_only_the_newest_checkpoints_are_kept_and_a_broken_one_is_skipped(tmp_path):
    learner = Learner(initial_model(0), ContinuousTrainingConfig())
    for version in (3, 9, 12, 20):
        save_checkpoint(tmp_path, learner.model, learner.optimizer, version, version, keep=3)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == [
        "ckpt-000000000009",
        "ckpt-000000000012",
        "ckpt-000000000020",
    ]
    (tmp_path / "ckpt-000000000020" / "model.safetensors").write_bytes(b"torn")
    assert load_latest(tmp_path).version == 12
    assert load_latest(tmp_path / "empty") is None


def test_the_watchdog_fires_only_when_a_ready_batch_waits_past_the_limit():
    since = {"t": None}
    dog = Watchdog(lambda: since["t"], 30.0, threading.Event(), exit_process=lambda code: None)
    assert dog.stalled_for(1000.0) is None  # no batch waiting: training is not stalled
    since["t"] = 990.0
    assert dog.stalled_for(1000.0) is None  # waiting 10 s, limit 30 s
    assert dog.stalled_for(1021.0) == 31.0


def test_the_watchdog_thread_ends_the_process_with_its_code():
    exits: list[int] = []
    dog = Watchdog(lambda: time.monotonic() - 1.0, 0.2, threading.Event(), exits.append)
    dog.start()
    dog.join(5)
    assert exits == [EXIT_STALLED] and not dog.is_alive()
