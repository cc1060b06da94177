"""The promoter's rules: promote on the candidate's lower bound, roll back on the served upper."""

import math

import pytest

from queen.ope import Estimate
from queen.promotion import Verdict, gate_candidate, rollback_due

NAN = float("nan")


def est(value: float, half: float = 0.25, n: int = 1000, effective_n: float = 500.0) -> Estimate:
    return Estimate("dr", value, value - half, value + half, n, effective_n)


def test_a_candidate_is_promoted_when_its_lower_bound_clears_the_served_value_minus_tolerance():
    served = est(-1.0)
    verdict = gate_candidate(est(-0.5), served, tolerance=0.0, min_samples=100)
    assert verdict == Verdict(True, verdict.reason) and verdict.reason.startswith("promote")
    assert "-0.75" in verdict.reason and "n=1000" in verdict.reason  # the evidence, numbers in
    assert not gate_candidate(est(-0.9), served, tolerance=0.0, min_samples=100).act
    assert gate_candidate(est(-0.9), served, tolerance=0.25, min_samples=100).act


def test_exactly_at_the_tolerance_promotes_and_just_below_does_not():
    served = est(-1.0)  # candidate lower = -1.25 = served - 0.25 (exact in binary)
    assert gate_candidate(est(-1.0), served, tolerance=0.25, min_samples=100).act
    below = Estimate("dr", -1.0, math.nextafter(-1.25, -2.0), -0.75, 1000, 500.0)
    verdict = gate_candidate(below, served, tolerance=0.25, min_samples=100)
    assert not verdict.act and verdict.reason.startswith("keep served")


def test_not_enough_samples_or_effective_samples_never_promotes():
    served = est(-1.0)
    verdict = gate_candidate(est(5.0, n=99), served, tolerance=0.0, min_samples=100)
    assert not verdict.act and "n=99 < min_samples=100" in verdict.reason
    assert gate_candidate(est(5.0, n=100), served, tolerance=0.0, min_samples=100).act
    few = est(5.0, effective_n=9.5)
    verdict = gate_candidate(few, served, tolerance=0.0, min_samples=100, min_effective_n=10)
    assert not verdict.act and "effective_n=9.5 < min_effective_n=10" in verdict.reason


def test_not_a_number_is_refused_not_acted_on():
    nan_candidate = Estimate("snips", NAN, -math.inf, math.inf, 1000, 0.0)
    for candidate, served in ((nan_candidate, est(-1.0)), (est(0.0), est(NAN))):
        verdict = gate_candidate(candidate, served, tolerance=0.1, min_samples=10)
        assert not verdict.act and "not a number" in verdict.reason
    for served, previous in ((est(NAN), est(0.0)), (est(-5.0), est(NAN))):
        verdict = rollback_due(served, previous, margin=0.1, min_samples=10)
        assert not verdict.act and "not a number" in verdict.reason
    infinite = Estimate("ips", 0.0, -math.inf, math.inf, 1000, 1.0)  # no interval: never acts
    assert not gate_candidate(infinite, est(-1.0), tolerance=0.1, min_samples=10).act
    assert not rollback_due(infinite, est(10.0), margin=0.1, min_samples=10).act


def test_rollback_when_the_served_upper_bound_is_below_the_previous_value_minus_margin():
    previous = est(-1.0)
    verdict = rollback_due(est(-2.0), previous, margin=0.5, min_samples=100)  # upper -1.75
    assert verdict.act and verdict.reason.startswith("roll back") and "-1.75" in verdict.reason
    # its value is below the previous one by more than the margin, its upper bound is not
    verdict = rollback_due(est(-1.6), previous, margin=0.5, min_samples=100)
    assert not verdict.act and verdict.reason.startswith("keep served")
    at_margin = Estimate("dr", -2.0, -2.25, -1.5, 1000, 500.0)  # upper == previous - margin
    assert not rollback_due(at_margin, previous, margin=0.5, min_samples=100).act
    verdict = rollback_due(est(-9.0, n=10), previous, margin=0.5, min_samples=100)
    assert not verdict.act and "n=10 < min_samples=100" in verdict.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tolerance": -0.1, "min_samples": 10}, "tolerance=-0.1"),
        ({"tolerance": NAN, "min_samples": 10}, "tolerance=nan"),
        ({"tolerance": 0.1, "min_samples": 1}, "min_samples=1"),
        ({"tolerance": 0.1, "min_samples": 10, "min_effective_n": -1.0}, "min_effective_n=-1.0"),
    ],
)
def test_bad_settings_fail_naming_the_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gate_candidate(est(0.0), est(0.0), **kwargs)
    margin = {("margin" if k == "tolerance" else k): v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message.replace("tolerance", "margin")):
        rollback_due(est(0.0), est(0.0), **margin)
