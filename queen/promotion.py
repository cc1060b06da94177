"""The promoter's decision rules, pure: promote a candidate, roll the served version back.

Both rules compare two Estimates (queen/ope.py) of the same window and return a Verdict: act
or not, and the evidence in one line (numbers included) for the logs and the promotion record.
They never act on too little evidence: fewer rows than `min_samples`, fewer effective rows
than `min_effective_n`, or a number that is not one (NaN: an empty window, SNIPS with no
weight) is a "no" with its reason, never an exception, so the promoter goes on.

- `gate_candidate` promotes when the candidate's *lower* bound is not worse than the served
  version's *value* by more than `tolerance`: the candidate must be good even at the
  pessimistic end of its interval, so a candidate that only looks good by luck of the window
  waits for more evidence. The tolerance lets an equal candidate through (a retrained model
  whose value is the served one's would otherwise never be promoted, its lower bound being
  below its value by construction).
- `rollback_due` rolls back when the served version's *upper* bound is below the previous
  version's value by more than `margin`: even at the optimistic end of its interval the served
  version is worse. With the value instead, a served version exactly as good as the previous
  one would be below it on half the windows, and a margin would be all that stands between
  noise and a rollback; with the upper bound, noise alone rolls back on at most about
  (1 − confidence) / 2 of the windows, and the margin is the harm worth acting on.

Bad settings (negative tolerance or margin, min_samples < 2) raise ValueError naming them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from queen.ope import Estimate


@dataclass(frozen=True)
class Verdict:
    """Whether to act (promote / roll back), and why, in one line."""

    act: bool  # promote (gate_candidate) / roll back (rollback_due)
    reason: str  # the evidence in one line, numbers included, for logs and the promotion record


def _describe(name: str, e: Estimate) -> str:
    return (
        f"{name} {e.method} {e.value:.4g} [{e.lower:.4g}, {e.upper:.4g}] "
        f"n={e.n} effective_n={e.effective_n:.1f}"
    )


def _check(setting: str, value: float, min_samples: int, min_effective_n: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{setting}={value!r}: must be a finite number >= 0")
    if min_samples < 2:
        raise ValueError(f"min_samples={min_samples!r}: must be >= 2 (no interval below)")
    if not (math.isfinite(min_effective_n) and min_effective_n >= 0.0):
        raise ValueError(f"min_effective_n={min_effective_n!r}: must be a finite number >= 0")


def _not_enough(name: str, e: Estimate, min_samples: int, min_effective_n: float) -> str | None:
    if e.n < min_samples:
        return f"{name} has n={e.n} < min_samples={min_samples}"
    if not e.effective_n >= min_effective_n:
        return f"{name} has effective_n={e.effective_n:.1f} < min_effective_n={min_effective_n:g}"
    return None


def gate_candidate(
    candidate: Estimate,
    served: Estimate,
    *,
    tolerance: float,
    min_samples: int,
    min_effective_n: float = 0.0,
) -> Verdict:
    """Promote when candidate.n >= min_samples and candidate.lower >= served.value − tolerance.

    `min_effective_n` (default 0: off) also requires the candidate's effective sample size:
    a candidate far from the logging policy has few effective rows and a less trustworthy
    interval.
    """
    _check("tolerance", tolerance, min_samples, min_effective_n)
    evidence = f"{_describe('candidate', candidate)}; {_describe('served', served)}"
    short = _not_enough("candidate", candidate, min_samples, min_effective_n)
    if short:
        return Verdict(False, f"not enough evidence: {short}; {evidence}")
    if any(math.isnan(x) for x in (candidate.value, candidate.lower, served.value)):
        return Verdict(False, f"refused: not a number; {evidence}")
    bar = served.value - tolerance
    if candidate.lower >= bar:
        return Verdict(
            True,
            f"promote: candidate lower {candidate.lower:.4g} >= served {served.value:.4g} "
            f"- tolerance {tolerance:g}; {evidence}",
        )
    return Verdict(
        False,
        f"keep served: candidate lower {candidate.lower:.4g} < served {served.value:.4g} "
        f"- tolerance {tolerance:g}; {evidence}",
    )


def rollback_due(
    served: Estimate,
    previous: Estimate,
    *,
    margin: float,
    min_samples: int,
    min_effective_n: float = 0.0,
) -> Verdict:
    """Roll back when both have n >= min_samples and served.upper < previous.value − margin."""
    _check("margin", margin, min_samples, min_effective_n)
    evidence = f"{_describe('served', served)}; {_describe('previous', previous)}"
    short = _not_enough("served", served, min_samples, min_effective_n) or _not_enough(
        "previous", previous, min_samples, min_effective_n
    )
    if short:
        return Verdict(False, f"not enough evidence: {short}; {evidence}")
    if any(math.isnan(x) for x in (served.value, served.upper, previous.value)):
        return Verdict(False, f"refused: not a number; {evidence}")
    bar = previous.value - margin
    if served.upper < bar:
        return Verdict(
            True,
            f"roll back: served upper {served.upper:.4g} < previous {previous.value:.4g} "
            f"- margin {margin:g}; {evidence}",
        )
    return Verdict(
        False,
        f"keep served: served upper {served.upper:.4g} >= previous {previous.value:.4g} "
        f"- margin {margin:g}; {evidence}",
    )
