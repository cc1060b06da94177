"""In-process figures: joiner throughput on a real broker, trainer step time, learning speed."""

from __future__ import annotations

import cProfile
import statistics
import threading
import time
import uuid

import numpy as np
from prometheus_client import CollectorRegistry

from bench.profiling import Rate, ThreadClock, profiled
from consumers.joiner.handler import JoinHandler
from consumers.joiner.metrics import JoinerMetrics
from consumers.joiner.pending import PendingJoin
from consumers.joiner.settings import JoinerSettings
from queen.features import extract_features
from queen.gate import SimulationGate
from queen.model import initial_model
from queen.rules import RULES_V1
from queen.world import TICK_SECONDS, World, WorldConfig
from runtime.dead_letter import DeadLetterPublisher
from runtime.kafka import make_admin, make_consumer, make_producer, make_transactional_producer
from runtime.loop import LoopConfig, ServiceLoop
from runtime.metrics import LoopMetrics
from runtime.settings import KafkaSettings
from runtime.topics import TopicSpec, ensure_topics
from schemas.codec import AvroSingleObjectCodec
from schemas.enums import DecisionStatus
from schemas.records import Decision, Reward
from tests.samples import decision, reward
from trainer.buffer.buffer import Batch
from trainer.curves import Evaluator, figures, first_tick_at, run_continuous, run_coupled
from trainer.learner import Learner
from trainer.settings import ContinuousTrainingConfig

CODEC = AvroSingleObjectCodec.default()


def joined_pair(i: int) -> tuple[Decision, Reward]:
    """The i-th decision of 64 territories and the reward that joins it.

    Every 128 ticks (32 game minutes) is a new epoch, as a game restarts: one clock covering
    the 3 game hours of a full run would refuse the records that arrive more than an hour
    behind its newest (runtime/event_clock.py), and the bench would measure dead letters.
    """
    tick, epoch = i // 64, f"bench-{i // 64 // 128}"
    d = decision(i % 64, tick, epoch=epoch)
    r = reward(
        i % 64,
        tick,
        decision_id=d.decision_id,
        decision_status=DecisionStatus.APPLIED,
        epoch=epoch,
    )
    return d, r


def joiner_throughput(
    settings: KafkaSettings, pairs: int, profile: cProfile.Profile | None = None
) -> Rate:
    """Decisions + rewards in per second through the joiner's loop, in Kafka transactions.

    With `profile`, the loop runs under cProfile (slower: for where the time goes, not speed).
    """
    token = uuid.uuid4().hex[:8]
    decisions, rewards, out = (f"bench-{token}.{n}" for n in ("decisions", "rewards", "exp"))
    ensure_topics(make_admin(settings), [TopicSpec(t, 4) for t in (decisions, rewards, out)])
    producer = make_producer(settings, **{"linger.ms": 20})
    for i in range(pairs):
        d, r = joined_pair(i)
        producer.produce(decisions, CODEC.encode(d), d.territory_id.encode())
        producer.produce(rewards, CODEC.encode(r), r.territory_id.encode())
        if i % 5000 == 0:
            producer.poll(0)
    producer.flush(60)
    registry = CollectorRegistry()
    metrics = LoopMetrics.create(registry, "joiner")
    tx = make_transactional_producer(settings, f"bench-joiner-{token}")
    handler = JoinHandler(PendingJoin(), decisions, out, JoinerMetrics.create(registry))
    loop = ServiceLoop(
        make_consumer(settings, f"bench-{token}"),
        tx,
        CODEC,
        {decisions: Decision, rewards: Reward},
        handler,
        DeadLetterPublisher(tx, out + ".dead", "bench", CODEC, metrics.dead_letters),
        metrics,
        LoopConfig(
            batch_size=2000,
            commit_interval=JoinerSettings.commit_interval_s,  # as the service commits
            transactional=True,
        ),
    )
    stop = threading.Event()
    thread = threading.Thread(target=profiled(loop.run, profile), args=(stop,))
    thread.start()
    clock = ThreadClock(thread)
    started, cpu = None, 0.0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        consumed = sum(
            registry.get_sample_value(
                "queen_records_consumed_total", {"service": "joiner", "topic": t}
            )
            or 0
            for t in (decisions, rewards)
        )
        if consumed and started is None:
            started, cpu = time.perf_counter(), clock.cpu()
        if handler.pending.stats.matched >= pairs:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    cpu = clock.cpu() - cpu
    stop.set()
    thread.join(60)
    return Rate(2 * pairs / elapsed, min(1.0, cpu / elapsed))


def trainer_step_ms(batch_size: int, repeats: int = 50) -> float:
    """Median milliseconds of one learner step (re-validation + gradient step) at `batch_size`."""
    world = World(WorldConfig(batch_size, 0))
    features = extract_features(world.observe())
    batch = Batch(
        np.arange(batch_size),
        np.ones(batch_size, np.float32),
        features,
        np.arange(batch_size) % 32,
        np.zeros(batch_size, np.float32),
        np.zeros(batch_size, np.float32),
        np.ones(batch_size, bool),
        np.ones(batch_size, np.int64),
        np.zeros(batch_size, np.int64),
        [str(i) for i in range(batch_size)],
    )
    learner, gate = Learner(initial_model(0), ContinuousTrainingConfig()), SimulationGate(RULES_V1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        learner.step(batch, gate)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def learning(ticks: int, coupled_cap: int) -> tuple[dict[str, object], dict[str, list[float]]]:
    """The learning race of trainer.curves: figures and curves.

    The continuous loop runs `ticks`. The seed's coupled loop runs long enough to decide the
    10× goal when it can: 10× the continuous loop's time to 80% of the gap (plus the 5 ticks a
    level must hold), at most `coupled_cap` ticks, at least `ticks`. A coupled loop that has not
    reached 80% by then is at least 10× slower, measured, not extrapolated.
    """
    config = WorldConfig(64, 0, None)
    evaluator = Evaluator(config)
    continuous = run_continuous(config, ticks, ContinuousTrainingConfig(), evaluator)
    reached = first_tick_at(continuous.share, 0.8)
    needed = ticks if reached is None else 10 * (reached + 1) + 5
    coupled_ticks = max(ticks, min(needed, coupled_cap))
    coupled = run_coupled(config, coupled_ticks, 0.001, evaluator)
    curves = {
        "continuous_share": continuous.share,
        "coupled_share": coupled.share,
        "continuous": continuous.reward,
        "coupled": coupled.reward,
        "random": [0.0] * ticks,
        "oracle": [0.0] * ticks,
        "gate_agreement": continuous.agreement,
    }
    out = figures(curves, None)
    out["run_game_minutes"] = ticks * TICK_SECONDS / 60
    out["coupled_run_game_minutes"] = coupled_ticks * TICK_SECONDS / 60
    return out, curves
