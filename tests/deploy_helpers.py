"""Shared by the deploy checks: the built overlays, the image, the locks, rules and dashboards."""

from __future__ import annotations

import copy
import functools
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
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
    """The objects `kubectl kustomize` builds for an overlay (a fresh copy on every call)."""
    return copy.deepcopy(_build_overlay(overlay))


@functools.cache
def _build_overlay(overlay: str) -> list[dict[str, Any]]:
    return build_dir(DEPLOY / "k8s" / "overlays" / overlay)


def build_dir(path: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` builds for any kustomization directory (never cached)."""
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(path)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def config(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The data of the generated ConfigMap every service reads (queenloop-config-<hash>)."""
    (cm,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("queenloop-config")
    ]
    return dict(cm["data"])


def container_env(deployment: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, str]:
    """The plain environment of a Deployment's container: its ConfigMaps, then its env values."""
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    configmaps = of_kind(objects, "ConfigMap")
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    return env


def mounts(deployment: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Mount path -> (volume, volumeMount) of a Deployment's container."""
    pod = deployment["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return {m["mountPath"]: (volumes[m["name"]], m) for m in c.get("volumeMounts", [])}


def mounted_file(deployment: dict[str, Any], path: str) -> tuple[str, str, str] | None:
    """(source kind, source name, key) of the volume file at `path`, or None.

    Source kind is "secret" or "configMap"; key is the Secret's or ConfigMap's key.
    """
    for mount_path, (volume, _) in mounts(deployment).items():
        prefix = mount_path.rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        relative = path[len(prefix) :]
        for kind, name_field in (("secret", "secretName"), ("configMap", "name")):
            if kind in volume:
                source = volume[kind]
                items = source.get("items")
                keys = {i["path"]: i["key"] for i in items} if items else {relative: relative}
                if relative in keys:
                    return kind, source[name_field], keys[relative]
    return None


# --- Custom resources against their CRDs' schemas ------------------------------------------------

CRDS = ROOT / "tests" / "unit" / "deploy" / "crds"

_VALIDATE = r"""
import json, sys
import jsonschema

def strict(node):
    # The API server prunes (kubectl --validate=strict: rejects) fields a structural schema
    # does not declare: the same here, so a misspelt field fails.
    if isinstance(node, dict):
        if node.get("x-kubernetes-int-or-string") and "anyOf" not in node:
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node

schemas, objects = json.load(sys.stdin)
errors = []
for schema_key, obj in objects:
    validator = jsonschema.Draft7Validator(strict(schemas[schema_key]))
    for error in validator.iter_errors(obj):
        where = "/".join(str(p) for p in error.absolute_path)
        errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {error.message}")
print(json.dumps(errors))
"""


def crd_schemas() -> dict[str, dict[str, Any]]:
    """apiVersion/kind -> the vendored openAPIV3Schema of that custom resource."""
    out = {}
    for path in sorted(CRDS.glob("*.json")):
        doc = json.loads(path.read_text())
        out[f"{doc['apiVersion']}/{doc['kind']}"] = doc["schema"]
    return out


def validate_custom_resources(objects: list[dict[str, Any]]) -> tuple[set[str], list[str]]:
    """Validate every object whose CRD schema is vendored; return (kinds checked, errors).

    Runs in .venv-tools, which has jsonschema (checkov's dependency).
    """
    schemas = crd_schemas()
    checked = [(f"{o['apiVersion']}/{o['kind']}", o) for o in objects]
    checked = [(key, o) for key, o in checked if key in schemas]
    python = TOOLS / "python"
    if not python.exists():
        pytest.skip("no .venv-tools (make test installs it)")
    out = subprocess.run(
        [str(python), "-c", _VALIDATE],
        input=json.dumps([schemas, checked]),
        capture_output=True,
        text=True,
        check=True,
    )
    return {o["kind"] for _, o in checked}, json.loads(out.stdout)


# --- The Dockerfile, read as Docker would (no engine runs here) --------------------------------

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"


@dataclass
class Stage:
    """One FROM ... stage: its instructions in order, as (INSTRUCTION, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        """The arguments of every `instruction` of the stage, in order."""
        return [a for i, a in self.instructions if i == instruction]


def dockerfile_lines(text: str) -> list[str]:
    """The instructions of a Dockerfile: comments dropped, continuation lines joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    return [line for line in lines if line]


def dockerfile_stages(text: str) -> list[Stage]:
    """The stages of a Dockerfile."""
    stages: list[Stage] = []
    for line in dockerfile_lines(text):
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = args.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            stages[-1].instructions.append((instruction, args.strip()))
    return stages


def env_assignments(args: str) -> dict[str, str]:
    """The variables an ENV instruction sets (KEY=value form)."""
    return dict(word.split("=", 1) for word in shlex.split(args))


# --- Requirement locks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One requirement of a lock: a name pinned to a version, with its allowed hashes."""

    name: str  # normalized: lower case, runs of -_. as -
    version: str
    hashes: tuple[str, ...]


def lock_pins(path: Path) -> list[Pin]:
    """The requirements of a pip lock file (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            pins.append(Pin(line, "", ()))  # an option line (-r, --index-url): no pin
            continue
        requirement, *options = line.split()
        name, _, version = requirement.partition("==")
        hashes = tuple(o.removeprefix("--hash=") for o in options if o.startswith("--hash="))
        pins.append(Pin(re.sub(r"[-_.]+", "-", name.lower()), version, hashes))
    return pins


def rules() -> dict[str, Any]:
    """The PrometheusRule's spec (a Prometheus rule file)."""
    cr = yaml.safe_load((DEPLOY / "prometheus" / "prometheusrule.yaml").read_text())
    return cr["spec"]


def alert_queries() -> dict[str, str]:
    """Every alert's expression reduced to the data it looks at, which a healthy run has.

    Threshold comparisons go; `absent(X)` becomes X and `A unless B` becomes B (both are quiet
    exactly when that data is there); an `offset` goes (a short run has no hour-old data).
    """
    out = {}
    for group in rules()["groups"]:
        for rule in group["rules"]:
            expr = re.sub(r"\s*(==|[<>]=?)\s*[0-9.]+(?=\s|$)", "", rule["expr"])
            expr = re.sub(r"\s+offset\s+\d+[smhd]", "", expr)
            expr = re.sub(r"^absent\((.*)\)$", r"\1", expr.strip())
            expr = expr.split(" unless ", 1)[-1]
            out[rule["alert"]] = expr
    return out


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every dashboard target."""
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "queenloop.json").read_text())
    return [
        (p["title"], t["expr"].replace("$namespace", ".*").replace("$cluster", ".*"))
        for p in board["panels"]
        for t in p.get("targets", [])
    ]


def metric_names(expression: str) -> set[str]:
    """The queen_* metric names (or name patterns) an expression reads."""
    return set(re.findall(r"queen_[a-z_]+(?:\.\+_[a-z_]+)?", expression))
