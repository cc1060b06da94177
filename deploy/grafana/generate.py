"""Generate the queenloop Grafana dashboard (dashboards/queenloop.json) from this file.

    .venv/bin/python deploy/grafana/generate.py

Plain JSON from a few Python helpers rather than grafana-foundation-sdk: the dashboard is small,
the helpers keep every panel's shape in one place, and the repository takes no dependency that
moves with Grafana's releases. A test checks the committed JSON equals this generator's output,
and another runs every panel query against a real Prometheus scraping the loop. Every query is
scoped by the $namespace and $cluster variables (their All also matches series without the
label, as a local scrape has); shared metrics group by their `service` label.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "dashboards" / "queenloop.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def panel(
    title: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    kind: str = "timeseries",
    unit: str = "short",
    w: int = 8,
    h: int = 7,
) -> dict[str, Any]:
    """A panel of `kind` with (expression, legend) targets at grid position (x, y)."""
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": DATASOURCE,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def row(title: str, y: int) -> dict[str, Any]:
    """A collapsed-open row header."""
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
    }


SCOPE = 'namespace=~"$namespace", cluster=~"$cluster"'


def sel(**labels: str) -> str:
    """A label selector: the dashboard's namespace and cluster, plus `labels` (exact)."""
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    return "{" + SCOPE + extra + "}"


def quantile(q: float, metric: str) -> str:
    """histogram_quantile over a histogram's buckets, rated over 5 minutes."""
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{sel()}[5m])))"


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A query variable over a label, with All (which also matches series without it)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "refresh": 2,
        "current": {"text": "All", "value": "$__all"},
    }


def promoter_row(y: int) -> list[dict[str, Any]]:
    """The promoter: what it estimates, for which versions, what it did (22 rows high)."""

    def by_role(metric: str) -> str:
        return f"max by (role) ({metric}{sel()})"

    def estimate(role: str) -> tuple[str, str]:
        expr = f"max by (bound) (queen_promoter_estimate_reward{sel(role=role)})"
        return expr, role + " {{bound}}"

    def evidence(metric: str, role: str) -> tuple[str, str]:
        expr = f"max by (bound) ({metric}{sel(role=role, bound='value')})"
        return expr, role

    return [
        row("Promoter", y),
        panel(
            "Promoter: estimated reward, served vs candidate (value, lower, upper)",
            [estimate("served"), estimate("candidate")],
            0,
            y + 1,
        ),
        panel(
            "Promoter: model version per role",
            [
                (by_role("queen_promoter_model_version"), "{{role}}"),
                (f"min(queen_inference_served_model_version{sel()})", "served (oldest pod)"),
            ],
            8,
            y + 1,
        ),
        panel(
            "Promoter: promotions and rollbacks, promotions refused",
            [
                (
                    f"sum by (kind) (increase(queen_promoter_promotions_total{sel()}[1h]))",
                    "{{kind}}",
                ),
                (
                    "sum by (reason) "
                    f"(increase(queen_promoter_promotions_rejected_total{sel()}[1h]))",
                    "refused by the promoter: {{reason}}",
                ),
                (
                    "sum by (reason) "
                    f"(increase(queen_inference_promotions_rejected_total{sel()}[1h]))",
                    "refused by inference: {{reason}}",
                ),
            ],
            16,
            y + 1,
        ),
        panel(
            "Promoter: candidate age",
            [(f"max(queen_promoter_candidate_age_seconds{sel()})", "candidate age")],
            0,
            y + 8,
            unit="s",
        ),
        panel(
            "Promoter: effective samples per role",
            [(by_role("queen_promoter_effective_samples"), "{{role}}")],
            8,
            y + 8,
        ),
        panel(
            "Promoter: window size",
            [(f"max(queen_promoter_window_experiences{sel()})", "experiences")],
            16,
            y + 8,
        ),
        panel(
            "Promoter: rollback evidence, realized reward (served version's own vs before)",
            [
                evidence("queen_promoter_realized_reward", "served"),
                evidence("queen_promoter_realized_reward", "previous"),
            ],
            0,
            y + 15,
        ),
        panel(
            "Promoter: rollback evidence, gate agreement (served version's own vs before)",
            [
                evidence("queen_promoter_gate_agreement_ratio", "served"),
                evidence("queen_promoter_gate_agreement_ratio", "previous"),
            ],
            8,
            y + 15,
            unit="percentunit",
        ),
    ]


def dashboard() -> dict[str, Any]:
    """The whole dashboard: one row per service, then what every service shares."""
    panels = [
        row("Trainer", 0),
        panel(
            "Model version: trained vs served",
            [
                (f"max(queen_trainer_current_model_version{sel()})", "trained"),
                (f"min(queen_inference_served_model_version{sel()})", "served (oldest pod)"),
            ],
            0,
            1,
        ),
        panel("Training loss", [(f"max(queen_trainer_loss{sel()})", "loss")], 8, 1),
        panel(
            "Replay buffer size",
            [
                (f"max(queen_trainer_buffer_size{sel()})", "buffer"),
                (f"max(queen_trainer_experiences_with_rewards{sel()})", "with rewards"),
            ],
            16,
            1,
        ),
        panel(
            "Training steps per second",
            [(f"sum(rate(queen_trainer_training_steps_total{sel()}[1m]))", "steps/s")],
            0,
            8,
            unit="ops",
        ),
        panel(
            "Step time",
            [(quantile(0.95, "queen_trainer_step_seconds"), "step p95")],
            8,
            8,
            unit="s",
        ),
        panel(
            "Utilization and gate agreement (drift signal)",
            [
                (f"max(avg_over_time(queen_trainer_utilization_ratio{sel()}[5m]))", "utilization"),
                (
                    f"min(avg_over_time(queen_trainer_gate_agreement_ratio{sel()}[5m]))",
                    "gate agreement",
                ),
            ],
            16,
            8,
            unit="percentunit",
        ),
        row("Inference", 15),
        panel(
            "Observation → decision latency",
            [
                (quantile(0.5, "queen_inference_decision_latency_seconds"), "p50"),
                (quantile(0.99, "queen_inference_decision_latency_seconds"), "p99"),
            ],
            0,
            16,
            unit="s",
        ),
        panel(
            "Decisions: SEND / WAIT",
            [(f"sum by (gate) (rate(queen_inference_decisions_total{sel()}[1m]))", "{{gate}}")],
            8,
            16,
            unit="ops",
        ),
        panel(
            "Hot-load and freshness",
            [
                (quantile(0.99, "queen_inference_hot_load_seconds"), "version → served p99"),
                (
                    quantile(0.5, "queen_inference_reward_to_serving_seconds"),
                    "reward → trained → served p50",
                ),
            ],
            16,
            16,
            unit="s",
        ),
        panel(
            "Model versions refused, by reason",
            [
                (
                    "sum by (reason) "
                    f"(increase(queen_inference_model_versions_rejected_total{sel()}[1h]))",
                    "{{reason}}",
                )
            ],
            0,
            23,
        ),
        panel(
            "Rules: observations of unknown rules, rule sets refused",
            [
                (
                    f"sum by (outcome) (increase(queen_inference_unknown_rules_total{sel()}[1h]))",
                    "unknown rules: {{outcome}}",
                ),
                (
                    f"sum by (reason) (increase(queen_rules_refused_total{sel()}[1h]))",
                    "rule sets refused: {{reason}}",
                ),
            ],
            8,
            23,
        ),
        *promoter_row(30),
        row("Joiner", 52),
        panel(
            "Joiner: matched / expired",
            [(f"sum by (source) (rate(queen_joiner_experiences_total{sel()}[1m]))", "{{source}}")],
            0,
            53,
            unit="ops",
        ),
        panel(
            "Joiner: held",
            [
                (f"sum(queen_joiner_pending_decisions{sel()})", "decisions"),
                (f"sum(queen_joiner_pending_rewards{sel()})", "rewards"),
            ],
            8,
            53,
        ),
        row("Game", 60),
        panel(
            "Reward (mean per territory, 5-minute average)",
            [(f"avg(avg_over_time(queen_game_reward_mean{sel()}[5m]))", "reward")],
            0,
            61,
        ),
        panel(
            "Decisions the game got, by status",
            [(f"sum by (status) (rate(queen_game_decisions_total{sel()}[1m]))", "{{status}}")],
            8,
            61,
            unit="ops",
        ),
        panel(
            "Simulated world only: expected reward, served vs random vs oracle",
            [
                (
                    f"avg by (policy) (avg_over_time(queen_game_expected_reward{sel()}[5m]))",
                    "{{policy}}",
                )
            ],
            16,
            61,
        ),
        row("Every service", 68),
        panel(
            "Records in by service",
            [
                (
                    f"sum by (service) (rate(queen_records_consumed_total{sel()}[1m]))",
                    "{{service}}",
                )
            ],
            0,
            69,
            unit="ops",
        ),
        panel(
            "Dead letters by service",
            [(f"sum by (service) (rate(queen_dead_letters_total{sel()}[5m]))", "{{service}}")],
            8,
            69,
            unit="ops",
        ),
        panel(
            "Consumer lag by service",
            [(f"sum by (service) (queen_consumer_lag_records{sel()})", "{{service}}")],
            16,
            69,
        ),
        panel(
            "Heartbeat age by service",
            [
                (
                    f"time() - max by (service) (queen_heartbeat_timestamp_seconds{sel()})",
                    "{{service}}",
                )
            ],
            0,
            76,
            unit="s",
        ),
        panel(
            "Running, by service and version",
            [(f"count by (service, version) (queen_build_info{sel()})", "{{service}} {{version}}")],
            8,
            76,
        ),
    ]
    return {
        "uid": "queenloop",
        "title": "queenloop — continuous training loop",
        "tags": ["queenloop", "kafka", "training"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 2,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                },
                variable("cluster", "Cluster", "label_values(queen_build_info, cluster)"),
                variable(
                    "namespace",
                    "Namespace",
                    'label_values(queen_build_info{cluster=~"$cluster"}, namespace)',
                ),
            ]
        },
        "panels": panels,
    }


def render() -> str:
    """The dashboard as the JSON text committed in dashboards/."""
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    sys.exit(0)
