"""Shared by the deploy checks: the built overlays, the rules and the dashboard's queries."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")
TOOLS = ROOT / ".venv-tools" / "bin"


def tool(name: str) -> str:
    """Path of a command-line tool, from .venv-tools or PATH; skip the test when absent."""
    local = TOOLS / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (make test installs it; .ci/run apt-installs some)")
    return found


def build(overlay: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` builds for an overlay."""
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def rules() -> dict[str, Any]:
    """The PrometheusRule's spec (a Prometheus rule file)."""
    cr = yaml.safe_load((DEPLOY / "prometheus" / "prometheusrule.yaml").read_text())
    return cr["spec"]


def alert_queries() -> dict[str, str]:
    """Every alert's expression without its threshold comparisons: the data it looks at."""
    out = {}
    for group in rules()["groups"]:
        for rule in group["rules"]:
            out[rule["alert"]] = re.sub(r"\s*[<>]=?\s*[0-9.]+(?=\s|$)", "", rule["expr"])
    return out


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every dashboard target."""
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "queenloop.json").read_text())
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


def metric_names(expression: str) -> set[str]:
    """The queen_* metric names (or name patterns) an expression reads."""
    return set(re.findall(r"queen_[a-z_]+(?:\.\+_[a-z_]+)?", expression))
