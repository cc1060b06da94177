"""The domain (queen/) and the contract (schemas/) import no plumbing.

Every module of both packages is imported in a fresh interpreter, and the modules it
pulled in are checked: no Kafka client, no Prometheus client, no service package.
"""

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("confluent_kafka", "prometheus_client", "runtime", "producers", "consumers", "trainer")

PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
names = [sys.argv[1]]
for info in pkgutil.walk_packages(package.__path__, prefix=sys.argv[1] + "."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
        names.append(info.name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("package", ["queen", "schemas"])
def test_package_imports_no_plumbing(package: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, package], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert len(result["imported"]) > 1, f"{package} has no modules to check"
    leaked = [
        m for m in result["modules"] if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert leaked == [], f"{package} pulls in {leaked}"
