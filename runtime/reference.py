"""The configuration reference, generated from the settings classes themselves.

    python -m runtime.reference > docs/configuration.md

Every setting is a field of a frozen settings dataclass (runtime/settings.py SETTINGS_MODULES)
read in its `from_env`. This module reads them back: the variable and its minimum from the
`from_env` call that reads each field, the default from the field, the meaning from the comment
beside (and above) it, the range from the class's checks, the flag from the service's FLAGS.
docs/configuration.md is this output, and a unit test holds the two equal, so the reference
cannot drift from the code. `--help` of every service prints the same lines.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

from runtime.settings import SETTINGS_MODULES
from schemas.limits import Limits

# module -> the service it configures (its FLAGS live in <package>.__main__)
SERVICE_MAINS = {
    "producers.game.settings": "producers.game.__main__",
    "consumers.inference.settings": "consumers.inference.__main__",
    "consumers.joiner.settings": "consumers.joiner.__main__",
    "trainer.settings": "trainer.__main__",
    "trainer.service_settings": "trainer.__main__",
}
COMMON_FLAGS = {
    "QUEEN_METRICS_PORT": "--metrics-port",
    "KAFKA_BOOTSTRAP_SERVERS": "--bootstrap-servers",
}
FIELD = re.compile(r"^\s+(\w+): [^=]+?=\s*(.+?)(?:\s+#\s*(.*))?$")
COMMENT = re.compile(r"^\s+#\s?(.*)$")


@dataclass(frozen=True)
class Setting:
    """One setting as the reference shows it."""

    variable: str
    flag: str
    default: Any
    rule: str
    meaning: str
    owner: str


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the comment lines above it and beside it, joined."""
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        comment = COMMENT.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        field = FIELD.match(line)
        if field:  # the comment beside a field says it; else the comment above it
            found[field.group(1)] = (field.group(3) or " ".join(pending)).strip()
        pending = []
    return found


def _readers(cls: type) -> dict[str, tuple[str, str]]:
    """Field name -> (variable, rule) from `field=env_x(env, "VAR", ..., minimum=M)` calls."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.from_env)))  # type: ignore[attr-defined]
    out = {}
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            value = keyword.value
            if (
                keyword.arg
                and isinstance(value, ast.Call)
                and len(value.args) >= 2
                and isinstance(value.args[1], ast.Constant)
                and isinstance(value.args[1].value, str)
            ):
                minimum = next((k.value for k in value.keywords if k.arg == "minimum"), None)
                if minimum is None and len(value.args) >= 4:
                    minimum = value.args[3]
                rule = f">= {ast.unparse(minimum)}" if minimum is not None else ""
                out[keyword.arg] = (value.args[1].value, rule)
    return out


def _rules(cls: type) -> dict[str, str]:
    """Field name -> rule text from a `checks = [("name", condition, "rule"), ...]` list."""
    post_init = getattr(cls, "__post_init__", None)
    if post_init is None:
        return {}
    tree = ast.parse(textwrap.dedent(inspect.getsource(post_init)))
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 3:
            name, condition, rule = node.elts
            if (
                isinstance(name, ast.Constant)
                and not isinstance(condition, ast.Constant)
                and isinstance(rule, ast.Constant)
            ):
                out[str(name.value)] = str(rule.value)
    return out


def _flags(module: str) -> dict[str, str]:
    main = SERVICE_MAINS.get(module)
    flags = dict(COMMON_FLAGS)
    if main is not None:
        dests = getattr(importlib.import_module(main), "FLAGS", {})
        flags.update({var: f"--{dest.replace('_', '-')}" for dest, var in dests.items()})
    return flags


def settings(modules: tuple[str, ...] = SETTINGS_MODULES, with_flags: bool = True) -> list[Setting]:
    """Every setting of the settings classes of `modules`, in module and field order."""
    out: list[Setting] = []
    seen: set[str] = set()
    for module_name in modules:
        module = importlib.import_module(module_name)
        flags = _flags(module_name) if with_flags else {}
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module_name or not hasattr(cls, "from_env"):
                continue
            comments, readers, rules = _comments(cls), _readers(cls), _rules(cls)
            prefix = "QUEEN_TRAINER_" if not readers else None  # a from_env that loops
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                variable, rule = readers.get(f.name, (f"{prefix}{f.name.upper()}", ""))
                if prefix is None and f.name not in readers:
                    continue  # not a setting (e.g. derived)
                if variable in seen:
                    continue  # read by several classes: documented once
                seen.add(variable)
                default = f.default if f.default is not dataclasses.MISSING else "(computed)"
                out.append(
                    Setting(
                        variable,
                        flags.get(variable, ""),
                        default,
                        rules.get(f.name, rule),
                        comments.get(f.name, ""),
                        cls.__name__,
                    )
                )
    for f in dataclasses.fields(Limits) if modules == SETTINGS_MODULES else ():
        out.append(
            Setting(
                f"QUEEN_LIMIT_{f.name.upper()}", "", f.default, "> 0", f.metadata["doc"], "Limits"
            )
        )
    return out


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"`{value}`" if value else "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value:,}`" if isinstance(value, int) else f"`{value:g}`"


def help_line(setting: Setting) -> str:
    """The --help text of a setting's flag."""
    rule = f"; {setting.rule}" if setting.rule else ""
    default = _shown(setting.default).strip("`")
    return f"{setting.variable} (default {default}{rule}): {setting.meaning}"


def render() -> str:
    """docs/configuration.md."""
    lines = [
        "# Configuration reference",
        "",
        "Every setting of every service: its environment variable, its command-line flag (where",
        "the service has one; a flag overrides the variable), its default and the range it must",
        "be in, and what it means. Each service reads its settings once, at start, and refuses a",
        "value out of range with a message naming the variable and the value; a `QUEEN_*`",
        "variable no setting reads is warned about, and a `KAFKA_*` one that is not a librdkafka",
        "setting is ignored with a warning. `KAFKA_<SETTING>` passes any librdkafka setting",
        "(`_` for `.`): `KAFKA_SECURITY_PROTOCOL=SASL_SSL` is `security.protocol`.",
        "",
        "Generated from the settings classes (`python -m runtime.reference`); a test keeps it so.",
    ]
    owner = None
    for s in settings():
        if s.owner != owner:
            owner = s.owner
            lines += ["", f"## {owner}", "", "| variable | flag | default | range | meaning |"]
            lines += ["|---|---|---|---|---|"]
        flag = f"`{s.flag}`" if s.flag else ""
        meaning, rule = s.meaning.replace("|", "\\|"), s.rule.replace("|", "\\|")
        lines.append(f"| `{s.variable}` | {flag} | {_shown(s.default)} | {rule} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
