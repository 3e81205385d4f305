"""Plan targets: attainment, shortfall and score against hand-computed values."""

from __future__ import annotations

import math

import pytest

from urban_sim.targets import Target


@pytest.mark.parametrize("op, target, high, value, met, short, score", [
    (">=", 0.92, math.nan, 0.90, False, 0.02, 0.90 / 0.92),
    (">=", 0.92, math.nan, 0.95, True, 0.0, 1.0),
    ("<=", 0.09, math.nan, 0.12, False, 0.03, 0.09 / 0.12),
    ("<=", 0.09, math.nan, 0.09, True, 0.0, 1.0),
    ("between", 1.1, 1.5, 0.55, False, 0.55, 0.5),
    ("between", 1.1, 1.5, 1.6, False, 0.1, 1 - 0.1 / 1.1),
    ("between", 1.1, 1.5, 1.3, True, 0.0, 1.0),
])
def test_met_shortfall_and_score(op, target, high, value, met, short, score):
    t = Target("x", 2027, op, target, high, "infrastructure")
    assert t.met(value) is met
    assert t.shortfall(value) == pytest.approx(short)
    assert t.score(value) == pytest.approx(score)


def test_nan_value_gives_unknown_not_zero():
    t = Target("x", 2025, ">=", 1.0, math.nan, "industry")
    assert t.met(math.nan) is None
    assert math.isnan(t.shortfall(math.nan)) and math.isnan(t.score(math.nan))
