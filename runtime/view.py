"""The live terminal view of `make run`: figures scraped from each service's /metrics.

`Snapshot` holds one scrape of every service; `render` turns two snapshots (for rates) into
lines. On a TTY the view redraws in place; otherwise it prints one plain line per refresh.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int, timeout: float = 1.0) -> Samples:
    """Return every sample of the /metrics page at 127.0.0.1:`port` (empty when down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as page:
            text = page.read().decode()
    except OSError:
        return {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


@dataclass
class Snapshot:
    """One scrape of every service, at wall time `at`."""

    at: float
    services: dict[str, Samples] = field(default_factory=dict)

    def value(self, service: str, name: str, **labels: str) -> float | None:
        """Return a sample's value, or None when the service or sample is missing."""
        return self.services.get(service, {}).get((name, tuple(sorted(labels.items()))))

    def total(self, service: str, name: str) -> float | None:
        """Sum of a metric over all its label sets, or None when absent."""
        found = [v for (n, _), v in self.services.get(service, {}).items() if n == name]
        return sum(found) if found else None


def rate(now: Snapshot, before: Snapshot | None, service: str, name: str) -> float | None:
    """Per-second rate of a counter between two snapshots."""
    if before is None:
        return None
    a, b = before.total(service, name), now.total(service, name)
    if a is None or b is None or now.at <= before.at:
        return None
    return max(0.0, b - a) / (now.at - before.at)


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def render(now: Snapshot, before: Snapshot | None, alive: dict[str, str]) -> list[str]:
    """Return the view's lines."""
    send = now.value("inference", "queen_inference_decisions_total", gate="SEND")
    wait = now.value("inference", "queen_inference_decisions_total", gate="WAIT")
    send_ratio = (
        send / (send + wait) if send is not None and wait is not None and send + wait else None
    )
    late = now.value("game", "queen_game_decisions_total", status="late")
    lines = [
        "queenloop — Ctrl-C stops everything (services first, broker last)",
        "service     state        in/s       out/s",
        _row(
            "game",
            alive,
            rate(now, before, "game", "queen_game_ticks_total"),
            rate(now, before, "game", "queen_game_observations_total"),
            "ticks/s",
            "obs/s",
        ),
        _row(
            "inference",
            alive,
            rate(now, before, "inference", "queen_records_consumed_total"),
            rate(now, before, "inference", "queen_inference_decisions_total"),
        ),
        _row(
            "joiner",
            alive,
            rate(now, before, "joiner", "queen_records_consumed_total"),
            rate(now, before, "joiner", "queen_joiner_experiences_total"),
        ),
        _row(
            "trainer",
            alive,
            rate(now, before, "trainer", "queen_trainer_experiences_taken_total"),
            rate(now, before, "trainer", "queen_trainer_training_steps_total"),
            "exp/s",
            "steps/s",
        ),
        _row(
            "promoter",
            alive,
            rate(now, before, "promoter", "queen_records_consumed_total"),
            rate(now, before, "promoter", "queen_promoter_promotions_total"),
            "exp/s",
            "prom/s",
        ),
        "model version trained {} · served {} · loss {} · gate agreement {}".format(
            _fmt(now.value("trainer", "queen_trainer_current_model_version")),
            _fmt(now.value("inference", "queen_inference_served_model_version")),
            _fmt(now.value("trainer", "queen_trainer_loss"), ".4f"),
            _fmt(now.value("trainer", "queen_trainer_gate_agreement_ratio"), ".2f"),
        ),
        "reward (mean per territory, last tick) {} · SEND ratio {} · rules v{}".format(
            _fmt(now.value("game", "queen_game_reward_mean"), ".3f"),
            _fmt(send_ratio, ".2f"),
            _fmt(now.value("game", "queen_game_rules_version")),
        ),
        "joiner pending {} · expired {} · late decisions {}{} · dead letters {}".format(
            _fmt(now.value("joiner", "queen_joiner_pending_decisions")),
            _fmt(now.value("joiner", "queen_joiner_events_total", outcome="defaulted")),
            _fmt(late),
            " (came after their tick: inference behind or restarting)" if late else "",
            _fmt(sum(now.total(s, "queen_dead_letters_total") or 0 for s in alive)),
        ),
        promoted(now),
    ]
    return lines


def _estimate(now: Snapshot, role: str) -> str:
    version = now.value("promoter", "queen_promoter_model_version", role=role)
    if version is None:
        return f"{role} -"
    bounds = [
        now.value("promoter", "queen_promoter_estimate_reward", role=role, bound=b)
        for b in ("value", "lower", "upper")
    ]
    if any(b is None for b in bounds):
        return f"{role} v{version:.0f}"
    value, lower, upper = bounds
    return f"{role} v{version:.0f} {value:.3f} [{lower:.3f}, {upper:.3f}]"


def promoted(now: Snapshot) -> str:
    """The promoter's line: served vs candidate (estimated reward per decision), its record."""
    return "promoter (reward per decision, DR) {} · {} · promoted {} · rolled back {}".format(
        _estimate(now, "served"),
        _estimate(now, "candidate"),
        _fmt(now.value("promoter", "queen_promoter_promotions_total", kind="PROMOTE")),
        _fmt(now.value("promoter", "queen_promoter_promotions_total", kind="ROLLBACK")),
    )


def _row(
    name: str,
    alive: dict[str, str],
    rin: float | None,
    rout: float | None,
    unit_in: str = "rec/s",
    unit_out: str = "rec/s",
) -> str:
    state = alive.get(name, "-")
    return f"{name:<11} {state:<12} {_fmt(rin):>6} {unit_in:<7} {_fmt(rout):>6} {unit_out}"
