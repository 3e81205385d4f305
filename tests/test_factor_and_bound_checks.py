"""Calibrated values near a bound are flagged
and calibration bounds outside the declared range are rejected by validate (C27)."""

from __future__ import annotations

from typer.testing import CliRunner

from urban_sim.calibration.base import bound_note, on_bound
from urban_sim.cli import app

from .conftest import CONFIGS, EXPERIMENTS


def test_c27_near_a_bound_is_flagged_within_a_few_percent():
    assert bound_note(4.58, 4.0, 4.6) == "at or near upper bound 4.6"  # 3 % of the range
    assert bound_note(4.02, 4.0, 4.6) == "at or near lower bound 4"
    assert bound_note(4.3, 4.0, 4.6) is None and bound_note(5.0, 5.0, 5.0) is None
    assert on_bound({"a": 4.58, "b": 4.3}, {"a": (4.0, 4.6), "b": (4.0, 4.6)}) == {"a": True, "b": False}


def test_c27_bounds_outside_the_declared_range_are_rejected_by_validate(tmp_path):
    text = (EXPERIMENTS / "calibrate_census.yaml").read_text(encoding="utf-8")
    text = text.replace("../configs/baseline.yaml", str(CONFIGS / "baseline.yaml"))
    text = text.replace("../data/lin_county/observations.csv",
                        str(EXPERIMENTS.parent / "data" / "lin_county" / "observations.csv"))
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("calibrated_scenario"))
    assert "asc_outside: {low: 3.5, high: 7.0}" in text
    f = tmp_path / "cal.yaml"
    f.write_text(text.replace("asc_outside: {low: 3.5, high: 7.0}",
                              "asc_outside: {low: 8.0, high: 9.5}"), encoding="utf-8")
    r = CliRunner().invoke(app, ["validate", str(f)])
    assert r.exit_code == 2, r.output
    assert "parameters.asc_outside: bounds [8, 9.5] lie outside the declared range [2.85, 8.85]" in r.output
