"""Value checks shared by the records: each failure names the record, the field and the value.

Standard library only.
"""

from __future__ import annotations

import math
import re
from typing import Any

from schemas.errors import InvalidRecord
from schemas.limits import Limits

N_CHUNKS = 8
N_SPAWN_TYPES = 4
N_FEATURES = 28
N_ACTIONS = N_CHUNKS * N_SPAWN_TYPES  # joint actions: spawn_chunk * 4 + spawn type index

NUMBER_TYPES = {int, float}  # exact types: bool is an int, but not a number here
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_TIME = 2**53  # any timestamp (ms or µs since the epoch) stays below this (year 2255 in µs)


def fail(record: str, name: str, value: Any, why: str) -> InvalidRecord:
    """Return the InvalidRecord for `record.name=value`: why."""
    return InvalidRecord(f"{record}.{name}={value!r}: {why}")


def finite(record: str, name: str, value: float) -> None:
    """Raise unless `value` is a finite number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(record, name, value, "must be a number")
    if not math.isfinite(value):
        raise fail(record, name, value, "must be a finite number")


def in_range(record: str, name: str, value: float, low: float, high: float) -> None:
    """Raise unless `value` is finite and within [low, high]."""
    finite(record, name, value)
    if not low <= value <= high:
        raise fail(record, name, value, f"must be in [{low}, {high}]")


def non_negative(record: str, name: str, value: float) -> None:
    """Raise unless `value` is finite and >= 0."""
    finite(record, name, value)
    if value < 0:
        raise fail(record, name, value, "must be >= 0")


def length(record: str, name: str, values: tuple[Any, ...], n: int) -> None:
    """Raise unless `values` holds exactly `n` items."""
    if len(values) != n:
        raise fail(record, name, values, f"must hold {n} values, holds {len(values)}")


def all_within(values: tuple[Any, ...], high: float = math.inf) -> bool:
    """True when every one of `values` is a finite int or float in [0, high].

    Runs in C: the set of types, min, max, and a sum that is NaN or inf when any value is.
    The fast path of the checks below; they name the failing value when it says False.
    """
    try:
        return (
            not values
            or {*map(type, values)} <= NUMBER_TYPES
            and min(values) >= 0
            and max(values) <= high
            and math.isfinite(sum(values))
        )
    except (TypeError, OverflowError):
        return False


def all_finite(values: tuple[Any, ...]) -> bool:
    """True when every one of `values` is a finite int or float (one pass in C, as above)."""
    try:
        return not values or ({*map(type, values)} <= NUMBER_TYPES and math.isfinite(sum(values)))
    except (TypeError, OverflowError):
        return False


def each_non_negative(
    record: str, name: str, values: tuple[Any, ...], high: float = math.inf
) -> None:
    """Raise naming the first of `values` that is not a finite number in [0, high]."""
    if all_within(values, high):
        return
    for i, value in enumerate(values):
        if high == math.inf:
            non_negative(record, f"{name}[{i}]", value)
        else:
            in_range(record, f"{name}[{i}]", value, 0.0, high)


def each_finite(record: str, name: str, values: tuple[Any, ...]) -> None:
    """Raise naming the first of `values` that is not a finite number."""
    try:
        if all(map(math.isfinite, values)):
            return
    except TypeError:
        pass
    for i, value in enumerate(values):
        finite(record, f"{name}[{i}]", value)


def rewards_within(total: float, components: dict[str, float], limits: Limits) -> bool:
    """True when a reward and its components are finite, bounded, and the map is small."""
    bound = limits.max_abs_reward
    try:
        return (
            len(components) <= limits.max_components
            and all(0 < len(k) <= limits.max_component_name for k in components)
            and all_finite((total, *components.values()))
            and max(map(abs, (total, *components.values()))) <= bound
        )
    except TypeError:
        return False


def name_reward_failure(
    record: str,
    names: tuple[str, str],
    total: float,
    components: dict[str, float],
    limits: Limits,
) -> None:
    """Raise InvalidRecord naming what `rewards_within` refused."""
    total_name, map_name = names
    bound = limits.max_abs_reward
    in_range(record, total_name, total, -bound, bound)
    if len(components) > limits.max_components:
        why = f"must hold at most {limits.max_components} entries"
        raise fail(record, map_name, f"<{len(components)} entries>", why)
    for key, value in components.items():
        if not isinstance(key, str) or not 0 < len(key) <= limits.max_component_name:
            why = f"names must hold 1 to {limits.max_component_name} characters"
            raise fail(record, map_name, str(key)[:40], why)
        in_range(record, f"{map_name}[{key!r}]", value, -bound, bound)
