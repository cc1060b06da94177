"""The image, read from the Dockerfile as Docker would build it (no engine runs here)."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

import pytest

from tests.deploy_helpers import (
    DOCKERFILE,
    ROOT,
    Stage,
    build,
    dockerfile_stages,
    env_assignments,
    of_kind,
)

TRAINER_DEFAULT_CHECKPOINT_DIR = "var/checkpoints"  # trainer/__main__.py, relative to the cwd
WORLD = "*"  # owner of a world-writable directory (/tmp)


@dataclass
class Filesystem:
    """Who owns which directory at the end of a stage, and as whom the stage's command runs."""

    user: str = "0"
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def writable(self, path: str) -> bool:
        """True when the stage's user can create or write `path` (its nearest existing dir)."""
        path = posixpath.normpath(posixpath.join(self.workdir, path))
        while path not in self.owners:
            path = posixpath.dirname(path)
        return self.owners[path] in (self.user, WORLD)


def filesystem(stage: Stage) -> Filesystem:
    """Replay the directory-ownership effects of a stage's instructions.

    The base image's directories belong to root (/tmp is world-writable). RUN's useradd
    (--create-home), mkdir and chown [-R] change ownership; WORKDIR creates missing directories
    as root; COPY creates its destination as root unless --chown.
    """
    fs = Filesystem()
    for d in ("/", "/etc", "/home", "/opt", "/usr", "/usr/local", "/var", "/var/lib", "/srv"):
        fs.owners[d] = "0"
    fs.owners["/tmp"] = WORLD
    names = {"root": "0"}

    def create(path: str, owner: str) -> None:
        path = posixpath.normpath(posixpath.join(fs.workdir, path))
        while path not in fs.owners:
            fs.owners[path] = owner
            path = posixpath.dirname(path)

    def uid(spec: str) -> str:
        name = spec.split(":")[0]
        return names.get(name, name)

    for instruction, args in stage.instructions:
        if instruction == "RUN":
            for command in re.split(r"&&|;|\|\|", args):
                words = shlex.split(command)
                if not words:
                    continue
                options = [w for w in words[1:] if w.startswith("-")]
                operands = [w for w in words[1:] if not w.startswith("-")]
                if words[0] == "useradd":
                    opts = dict(zip(words[1:-1], words[2:], strict=True))
                    user_id = opts.get("--uid", opts.get("-u", "1000"))
                    names[words[-1]] = user_id
                    if "--create-home" in words or "-m" in words:
                        home = opts.get("--home-dir", opts.get("-d", f"/home/{words[-1]}"))
                        create(home, user_id)
                        fs.owners[posixpath.normpath(home)] = user_id
                elif words[0] == "mkdir":
                    for path in operands:
                        create(path, fs.user)
                elif words[0] == "chown":
                    owner, paths = uid(operands[0]), operands[1:]
                    for path in paths:
                        path = posixpath.normpath(posixpath.join(fs.workdir, path))
                        for known in list(fs.owners):
                            recursive = "-R" in options and known.startswith(path + "/")
                            if known == path or recursive:
                                fs.owners[known] = owner
        elif instruction == "WORKDIR":
            create(args, "0")
            fs.workdir = posixpath.normpath(posixpath.join(fs.workdir, args))
        elif instruction == "USER":
            fs.user = uid(args)
        elif instruction == "ENV":
            fs.env.update(env_assignments(args))
        elif instruction == "COPY":
            words = shlex.split(args)
            chown = [w.split("=", 1)[1] for w in words if w.startswith("--chown=")]
            destination = [w for w in words if not w.startswith("--")][-1]
            create(destination, uid(chown[0]) if chown else "0")
    return fs


def runtime_filesystem() -> Filesystem:
    """The final stage's filesystem: what the container starts in."""
    return filesystem(dockerfile_stages(DOCKERFILE.read_text())[-1])


def test_the_syntax_directive_is_the_first_line():
    """BuildKit reads `# syntax=` only on line 1; below a comment it is a plain comment."""
    assert DOCKERFILE.read_text().splitlines()[0].startswith("# syntax=docker/dockerfile:1")


def test_the_container_runs_as_the_non_root_user_the_manifests_expect():
    fs = runtime_filesystem()
    assert fs.user.isdigit() and fs.user != "0", "USER must be a numeric non-root uid"
    for overlay in ("dev", "prod"):
        for d in of_kind(build(overlay), "Deployment").values():
            context = d["spec"]["template"]["spec"]["securityContext"]
            assert str(context["runAsUser"]) == fs.user, d["metadata"]["name"]


def test_the_trainer_can_write_its_checkpoints_in_the_container():
    fs = runtime_filesystem()
    configured = fs.env.get("QUEEN_TRAINER_CHECKPOINT_DIR", TRAINER_DEFAULT_CHECKPOINT_DIR)
    assert fs.writable(configured), f"{configured} is not writable by uid {fs.user}"
    # The default relative path works too: the working directory belongs to the user.
    assert fs.writable(TRAINER_DEFAULT_CHECKPOINT_DIR) and fs.writable(fs.workdir)
    assert fs.writable(fs.env["QUEEN_HEARTBEAT_FILE"])
    # Kubernetes mounts the trainer's volume at the same path the image points at.
    for overlay in ("dev", "prod"):
        trainer = of_kind(build(overlay), "Deployment")["queenloop-trainer"]
        (c,) = trainer["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert env["QUEEN_TRAINER_CHECKPOINT_DIR"] == configured


@pytest.mark.parametrize(
    ("dockerfile", "writable"),
    [
        # The old image: WORKDIR created by root, no home: var/checkpoints cannot be created.
        (
            "FROM python:3.11-slim\nRUN useradd --uid 10001 --no-create-home queen\n"
            "WORKDIR /home/queen\nUSER 10001:10001\n",
            False,
        ),
        ("FROM python:3.11-slim\nRUN mkdir -p /data\nWORKDIR /data\nUSER 10001\n", False),
        (
            "FROM python:3.11-slim\nRUN mkdir -p /data && chown -R 10001:10001 /data\n"
            "WORKDIR /data\nUSER 10001\n",
            True,
        ),
        (
            "FROM python:3.11-slim\nRUN useradd -u 10001 -m queen\nWORKDIR /home/queen\n"
            "USER queen\n",
            True,
        ),
    ],
)
def test_the_ownership_replay_tells_writable_from_not(dockerfile, writable):
    fs = filesystem(dockerfile_stages(dockerfile)[-1])
    assert fs.writable(TRAINER_DEFAULT_CHECKPOINT_DIR) is writable


def test_the_image_installs_only_the_runtime_lock_hash_checked():
    text = DOCKERFILE.read_text()
    instructions = " ".join(a for s in dockerfile_stages(text) for _, a in s.instructions)
    assert "requirements-dev.lock" not in instructions and "calfkit" not in instructions
    installs = [
        a
        for stage in dockerfile_stages(text)
        for run in stage.args("RUN")
        for a in re.split(r"&&|;", run)
        if re.search(r"\bpip\b.*\binstall\b", a)
    ]
    assert installs
    for command in installs:
        if " -r " in command:
            assert "--require-hashes" in command, command
        else:  # the project itself: no dependencies resolved
            assert "--no-deps" in command and "--no-build-isolation" in command, command
    locks = [re.search(r"-r (\S+)", c).group(1) for c in installs if " -r " in c]
    assert [posixpath.basename(p) for p in locks] == ["requirements-pip.lock", "requirements.lock"]


def test_the_build_context_admits_only_what_the_image_copies():
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allowlist: everything excluded, then what the image needs"
    admitted = {line[1:] for line in lines if line.startswith("!")}
    sources = set()
    for stage in dockerfile_stages(DOCKERFILE.read_text()):
        for args in stage.args("COPY"):
            words = shlex.split(args)
            if any(w.startswith("--from=") for w in words):
                continue
            sources |= set([w for w in words if not w.startswith("--")][:-1])
    assert sources <= admitted, f"copied but excluded: {sorted(sources - admitted)}"
    for private in ("var", ".venv", "tests", "requirements-dev.lock", ".git"):
        assert private not in admitted
    for path in admitted:
        assert (ROOT / path).exists(), f".dockerignore admits a missing {path}"
