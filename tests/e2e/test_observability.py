"""A real Prometheus scrapes a short live run of the loop; every dashboard query and alert has data.

A query that names a metric no service exports, or a label no scrape carries, returns nothing
and fails here. Alert expressions are checked without their thresholds: the data they look at.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request

import pytest
import yaml

from runtime.broker import free_port
from tests.deploy_helpers import alert_queries, dashboard_queries, tool
from tests.e2e.harness import LoopHarness
from tests.integration.kafka_helpers import wait_for

pytestmark = pytest.mark.e2e
SERVICES = ("game", "inference", "joiner", "trainer", "promoter")


def query(port: int, expression: str) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_every_dashboard_query_and_alert_expression_returns_data(kafka, tmp_path):
    prometheus = tool("prometheus")
    loop = LoopHarness(kafka.bootstrap_servers, tmp_path, territories=16)
    for name in ("inference", "joiner", "trainer", "promoter"):
        loop.start(name)
    loop.start("game", "--speed", "40")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": name,
                "static_configs": [
                    {"targets": [f"127.0.0.1:{loop.ports[name]}"], "labels": {"container": name}}
                ],
            }
            for name in SERVICES
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with open(tmp_path / "prometheus.log", "wb") as log:  # the child keeps its own handle
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_for(
            lambda: len(query_safe(port, "up == 1")) == len(SERVICES),
            60,
            "Prometheus to scrape the five services",
        )
        wait_for(
            lambda: query_safe(port, "min(queen_inference_served_model_version) > 2"),
            90,
            "trained versions to be served",
        )
        expressions = dict(dashboard_queries()) | {
            f"alert {k}": v for k, v in alert_queries().items()
        }

        def missing() -> list[str]:
            return [
                f"{name}: {expr}"
                for name, expr in expressions.items()
                if not query_safe(port, expr)
            ]

        # rates and the lag alert's deriv need a few scrapes (and 15 s subquery steps)
        wait_for(lambda: not missing(), 90, "every query to return data", every=2.0)
    finally:
        server.terminate()
        server.wait(30)
        loop.stop_all()


def query_safe(port: int, expression: str) -> list:
    try:
        return query(port, expression)
    except OSError:
        return []
