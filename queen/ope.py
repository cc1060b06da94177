"""Off-policy evaluation: what a target policy would have earned, from decisions logged by another.

Every logged decision carries the exploring policy's exact propensity p_i of the action a_i it
took and the realized reward r_i. A target policy π gives each logged context x_i the
probabilities π(·|x_i) (queen/policy.py `action_probabilities`); w_i = π(a_i|x_i) / p_i is the
importance weight of the row. With q(x, a) the direct-method model (the gate's expected reward
of every action, queen/gate.py `expected_table`), over a window of n rows:

    IPS    V = (1/n) Σ w_i r_i
    SNIPS  V = Σ w_i r_i / Σ w_i
    DR     V = (1/n) Σ [ Σ_a π(a|x_i) q(x_i, a) + w_i (r_i − q(x_i, a_i)) ]

IPS and DR are unbiased when the logging policy gives every action the target may take a
positive probability (positivity: exploration must stay on); SNIPS is consistent, with a bias
of order 1/n, and much less variance when the weights are spread. DR is unbiased whatever q,
and its variance shrinks as q gets closer to the true expected reward.

The interval: normal (central limit) with the sample variance of the per-row terms; for SNIPS,
the delta method (the per-row terms w_i (r_i − V) / mean(w)). Why not empirical Bernstein: it
needs a bound on the terms, and the rewards here have none a priori (penalties grow with the
threat) while the weights reach 1/p_min; a bound wide enough to hold would make the interval
useless. Why not the bootstrap: it costs hundreds of passes for an interval that, for a mean of
i.i.d. terms, agrees with the normal one once n is in the hundreds. The normal interval's
weakness is the same as the bootstrap's: heavy, rare weights (a target's greedy action that
the ε-greedy logging policy took with probability ε/32) make it too narrow on the windows that
drew none of them, for IPS and SNIPS (DR leans on q there and still covers). The drawn
`effective_n` = (Σ w)² / Σ w² hides it on exactly those windows; `expected_effective_n` (from
both policies' probabilities, before any draw) shows it. The sample variance includes the
variation across contexts: the interval is for the value on the distribution the contexts came
from (for the window's own contexts it is conservative). tests/unit/queen/test_ope.py measures
coverage; docs/evaluation.md has the figures.

Fewer than two rows (or, for SNIPS, no weight on any logged action): the estimate is still an
Estimate, with infinite bounds (value: the single row's term, or NaN when there is none), so
"not enough evidence" flows to the promotion rules, which refuse to act on it. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

METHODS = ("ips", "snips", "dr")
PROBABILITY_TOLERANCE = 1e-6  # a target row must sum to 1 within this


@dataclass(frozen=True)
class Logged:
    """A window of logged decisions, arrays of length n."""

    actions: np.ndarray  # int64 (n,) joint action taken
    propensities: np.ndarray  # float (n,) logging policy's probability of that action, in (0, 1]
    rewards: np.ndarray  # float (n,) realized reward

    def __post_init__(self) -> None:
        """Coerce to arrays; refuse other shapes, non-finite values, propensities out of (0, 1]."""
        actions = np.asarray(self.actions)
        propensities = np.asarray(self.propensities, dtype=np.float64)
        rewards = np.asarray(self.rewards, dtype=np.float64)
        if actions.ndim != 1 or not actions.shape == propensities.shape == rewards.shape:
            raise ValueError(
                f"actions {actions.shape}, propensities {propensities.shape}, rewards "
                f"{rewards.shape}: must be three 1-D arrays of the same length"
            )
        if actions.size and not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"actions dtype {actions.dtype}: must be integers")
        if actions.size and actions.min() < 0:
            raise ValueError(f"action {int(actions.min())}: must be >= 0")
        if not np.isfinite(rewards).all():
            raise ValueError("rewards: must all be finite")
        bad = ~((propensities > 0.0) & (propensities <= 1.0))  # NaN is bad too
        if bad.any():
            raise ValueError(f"propensity {float(propensities[bad][0])!r}: must be in (0, 1]")
        object.__setattr__(self, "actions", actions.astype(np.int64))
        object.__setattr__(self, "propensities", propensities)
        object.__setattr__(self, "rewards", rewards)

    def __len__(self) -> int:
        """The number of rows."""
        return len(self.actions)


@dataclass(frozen=True)
class Estimate:
    """A policy's estimated value on a window, with its confidence interval."""

    method: str  # "ips" | "snips" | "dr" (or "mean": an on-policy mean, see `mean_estimate`)
    value: float
    lower: float
    upper: float
    n: int
    effective_n: float  # (sum w)^2 / sum w^2 of the importance weights


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r}: must be in (0, 1)")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _check_table(name: str, table: np.ndarray, logged: Logged) -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] != len(logged):
        raise ValueError(f"{name} shape {table.shape}: must be ({len(logged)}, n_actions)")
    if len(logged) and logged.actions.max() >= table.shape[1]:
        raise ValueError(f"action {int(logged.actions.max())}: {name} has {table.shape[1]}")
    if not np.isfinite(table).all():
        raise ValueError(f"{name}: must all be finite")
    return table


def _weights(logged: Logged, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (target probabilities checked, importance weights of the logged actions)."""
    target = _check_table("target", target, logged)
    if (target < 0.0).any():
        raise ValueError("target: probabilities must be >= 0")
    sums = target.sum(axis=1)
    off = np.abs(sums - 1.0) > PROBABILITY_TOLERANCE
    if off.any():
        raise ValueError(f"target row sums to {float(sums[off][0])!r}: must sum to 1")
    taken = target[np.arange(len(logged)), logged.actions]
    return target, taken / logged.propensities


def _effective_n(w: np.ndarray) -> float:
    square = float(np.square(w).sum())
    return float(w.sum()) ** 2 / square if square > 0.0 else 0.0


def _interval(method: str, terms: np.ndarray, w: np.ndarray, confidence: float) -> Estimate:
    """The mean of i.i.d. per-row terms, with the normal interval of their sample variance."""
    z, n = _z(confidence), len(terms)
    if n < 2:
        value = float(terms[0]) if n else float("nan")
        return Estimate(method, value, -np.inf, np.inf, n, _effective_n(w))
    value = float(terms.mean())
    half = z * float(terms.std(ddof=1)) / np.sqrt(n)
    return Estimate(method, value, value - half, value + half, n, _effective_n(w))


def ips(logged: Logged, target: np.ndarray, *, confidence: float = 0.95) -> Estimate:
    """Inverse propensity scoring: the mean of w_i r_i; unbiased under positivity."""
    _, w = _weights(logged, target)
    return _interval("ips", w * logged.rewards, w, confidence)


def snips(logged: Logged, target: np.ndarray, *, confidence: float = 0.95) -> Estimate:
    """Self-normalized IPS: Σ w r / Σ w; the interval by the delta method.

    The linearized error is mean(w (r − V)) / mean(w): its per-row terms w_i (r_i − V) /
    mean(w) have the sample variance the interval uses. No weight on any logged action (Σ w =
    0): no estimate, NaN with infinite bounds.
    """
    z = _z(confidence)
    _, w = _weights(logged, target)
    n, total = len(w), float(w.sum())
    if n < 2 or total <= 0.0:
        value = float(logged.rewards[0]) if n == 1 and total > 0.0 else float("nan")
        return Estimate("snips", value, -np.inf, np.inf, n, _effective_n(w))
    value = float((w * logged.rewards).sum()) / total
    terms = w * (logged.rewards - value) / (total / n)
    half = z * float(np.sqrt(np.square(terms).sum() / (n - 1))) / np.sqrt(n)
    return Estimate("snips", value, value - half, value + half, n, _effective_n(w))


def doubly_robust(
    logged: Logged, target: np.ndarray, q_table: np.ndarray, *, confidence: float = 0.95
) -> Estimate:
    """Doubly robust: the direct method Σ_a π q, corrected by w (r − q) at the logged action."""
    target, w = _weights(logged, target)
    q = _check_table("q_table", q_table, logged)
    if q.shape != target.shape:
        raise ValueError(f"q_table shape {q.shape}: must be the target's {target.shape}")
    rows = np.arange(len(logged))
    direct = (target * q).sum(axis=1)
    terms = direct + w * (logged.rewards - q[rows, logged.actions])
    return _interval("dr", terms, w, confidence)


def estimate(
    method: str,
    logged: Logged,
    target: np.ndarray,
    q_table: np.ndarray | None = None,
    *,
    confidence: float = 0.95,
) -> Estimate:
    """Dispatch to `ips`, `snips` or `doubly_robust` (which needs `q_table`) by name."""
    if method == "ips":
        return ips(logged, target, confidence=confidence)
    if method == "snips":
        return snips(logged, target, confidence=confidence)
    if method == "dr":
        if q_table is None:
            raise ValueError("method 'dr' needs a q_table (the direct-method rewards)")
        return doubly_robust(logged, target, q_table, confidence=confidence)
    raise ValueError(f"method={method!r}: must be one of {', '.join(METHODS)}")


def expected_effective_n(target: np.ndarray, logging: np.ndarray) -> float:
    """The effective sample size a window of these contexts is worth, before any draw.

    n / mean_i Σ_a π(a|x_i)² / μ(a|x_i), with μ the logging policy's probabilities of every
    action (the served model's values through the same exploring rule). The drawn
    `effective_n` misleads when the heavy weights are rare: a window that happened to draw
    none looks well-sampled and its interval is narrow and wrong. This one does not depend on
    the draws. 0.0 when the target puts probability where the logging policy puts none
    (positivity broken: no unbiased estimate exists).
    """
    target = np.asarray(target, dtype=np.float64)
    logging = np.asarray(logging, dtype=np.float64)
    if target.shape != logging.shape or target.ndim != 2:
        raise ValueError(f"target {target.shape} and logging {logging.shape}: one (n, A) shape")
    if not (np.isfinite(target).all() and np.isfinite(logging).all()):
        raise ValueError("target and logging: must all be finite")
    if len(target) == 0:
        return 0.0
    if ((target > 0.0) & (logging <= 0.0)).any():
        return 0.0
    ratio = np.divide(np.square(target), logging, out=np.zeros_like(target), where=target > 0.0)
    return float(len(target) / ratio.sum(axis=1).mean())


def mean_estimate(
    values: np.ndarray, *, confidence: float = 0.95, method: str = "mean"
) -> Estimate:
    """An on-policy mean (realized reward, gate-agreement rate) as an Estimate, same interval.

    Every weight is 1, so effective_n is n. For the served version's realized reward or its
    gate-agreement rate beside the previous version's, in `rollback_due`.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError(f"values shape {values.shape}: must be 1-D and finite")
    return _interval(method, values, np.ones(len(values)), confidence)
