"""Generate the queenloop Grafana dashboard (dashboards/queenloop.json) from this file.

    .venv/bin/python deploy/grafana/generate.py

Plain JSON from a few Python helpers rather than grafana-foundation-sdk: the dashboard is small,
the helpers keep every panel's shape in one place, and the repository takes no dependency that
moves with Grafana's releases. A test checks the committed JSON equals this generator's output,
and another runs every panel query against a real Prometheus scraping the loop. Per-service
panels group by the `container` label, which the PodMonitor's scrape sets to the service name.
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


def quantile(q: float, metric: str) -> str:
    """histogram_quantile over a histogram's buckets, rated over 5 minutes."""
    return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket[5m])))"


def per_service(metric_suffix: str) -> str:
    """Every service's queen_<service>_<suffix> series; the scrape labels each `container`."""
    return f'{{__name__=~"queen_.+_{metric_suffix}"}}'


def dashboard() -> dict[str, Any]:
    """The whole dashboard."""
    panels = [
        row("Training (seed §7.2)", 0),
        panel(
            "Model version: trained vs served",
            [
                ("max(queen_trainer_current_model_version)", "trained"),
                ("min(queen_inference_served_model_version)", "served (oldest pod)"),
            ],
            0,
            1,
        ),
        panel("Training loss", [("max(queen_trainer_loss)", "loss")], 8, 1),
        panel(
            "Replay buffer size",
            [
                ("max(queen_trainer_buffer_size)", "buffer"),
                ("max(queen_trainer_experiences_with_rewards)", "with rewards"),
            ],
            16,
            1,
        ),
        panel(
            "Training steps per second",
            [
                ("sum(rate(queen_trainer_training_steps_total[1m]))", "steps/s"),
            ],
            0,
            8,
        ),
        panel(
            "Step time and utilization",
            [
                (quantile(0.95, "queen_trainer_step_seconds"), "step p95"),
                ("max(queen_trainer_utilization)", "utilization"),
            ],
            8,
            8,
            unit="s",
        ),
        panel(
            "Gate agreement (drift signal)",
            [
                ("max(queen_trainer_gate_agreement_average)", "moving average"),
                ("max(queen_trainer_gate_agreement)", "last batch"),
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
            [
                ("sum by (gate) (rate(queen_inference_decisions_total[1m]))", "{{gate}}"),
            ],
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
                (
                    "sum by (reason) (increase(queen_inference_model_versions_rejected_total[1h]))",
                    "rejected: {{reason}}",
                ),
            ],
            16,
            16,
            unit="s",
        ),
        row("Game, joiner, health", 23),
        panel(
            "Reward (mean per territory, last tick)",
            [
                ("avg(queen_game_mean_reward)", "reward"),
            ],
            0,
            24,
        ),
        panel(
            "Joiner: matched / expired, pending",
            [
                ("sum by (source) (rate(queen_joiner_experiences_total[1m]))", "{{source}}"),
                ("sum(queen_joiner_pending_decisions)", "pending decisions"),
            ],
            8,
            24,
        ),
        panel(
            "Dead letters by service",
            [
                (
                    f"sum by (container) (rate({per_service('dead_letters_total')}[5m]))",
                    "{{container}}",
                ),
            ],
            16,
            24,
            unit="ops",
        ),
        panel(
            "Consumer lag by service",
            [
                (f"sum by (container) ({per_service('consumer_lag')})", "{{container}}"),
            ],
            0,
            31,
        ),
        panel(
            "Heartbeat age by service",
            [
                (
                    f"time() - max by (container) ({per_service('heartbeat_timestamp_seconds')})",
                    "{{container}}",
                ),
            ],
            8,
            31,
            unit="s",
        ),
        panel(
            "Records in by service",
            [
                (
                    f"sum by (container) (rate({per_service('records_consumed_total')}[1m]))",
                    "{{container}}",
                ),
            ],
            16,
            31,
            unit="ops",
        ),
    ]
    return {
        "uid": "queenloop",
        "title": "queenloop — continuous training loop",
        "tags": ["queenloop", "kafka", "training"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
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
