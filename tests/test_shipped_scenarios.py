"""Every shipped scenario through every command that reads scenarios: validate, run, compare
against the baseline, report (tiny scale, short horizon), so no shipped file can break a command.

Also the compare traceback of issue 13: ``compare baseline calibrated`` ended in
``TypeError: bad operand type for abs(): 'dict'`` when a scenario set ``parameters:`` or
programme weights (an empty mapping in one scenario against entries in the other).
"""

from __future__ import annotations

import matplotlib.figure
import pytest
from typer.testing import CliRunner

from urban_sim.analysis.compare import scenario_differences
from urban_sim.cli import app

from .conftest import CONFIGS, EXPERIMENTS

SCENARIOS = sorted(CONFIGS.glob("*.yaml"))
TINY = ["--scale", "0.01", "--end-year", "2026", "--workers", "1"]


def test_every_shipped_file_validates():
    files = [*SCENARIOS, *sorted(EXPERIMENTS.glob("*.yaml"))]
    r = CliRunner().invoke(app, ["validate", *map(str, files)])
    assert r.exit_code == 0, r.output
    assert r.output.count(" OK") == len(files)


def _no_drawing(self, fname, *args, **kwargs):
    """Figures depend on the timeseries, not on scenario settings, and are drawn in the run and
    compare tests of test_cli.py; here a placeholder file keeps 13 scenarios fast."""
    if hasattr(fname, "write"):
        fname.write(b"\x89PNG placeholder")
    else:
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG placeholder")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_runs_and_its_report_rebuilds(tmp_path, path, monkeypatch):
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _no_drawing)
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(path), *TINY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "summary.md").is_file() and (out / "timeseries.parquet").is_file()
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output


def test_every_shipped_scenario_compares_against_the_baseline(tmp_path, monkeypatch):
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _no_drawing)
    out = tmp_path / "cmp"
    # one more scenario that sets `parameters:` (the old abs(dict) traceback of issue 13)
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text("extends: baseline\nname: tuned\nparameters:\n  asc_outside: 5.9\n",
                     encoding="utf-8")
    others = [p for p in SCENARIOS if p.stem != "baseline"] + [tuned]
    r = CliRunner().invoke(app, ["compare", str(CONFIGS / "baseline.yaml"), *map(str, others),
                                 "--replicates", "2", *TINY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "parameters.asc_outside" in md and "(default)" in md
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output


def test_settings_differences_with_empty_and_filled_mappings_are_plain_values():
    diff = scenario_differences({
        "a": {"parameters": {}, "policy": {"programme_weights": {}}},
        "b": {"parameters": {"asc_outside": 5.6},
              "policy": {"programme_weights": {"energy_industry": 0.5}}},
    })
    assert diff.to_dict("records") == [
        {"setting": "parameters.asc_outside", "a": "(default)", "b": 5.6},
        {"setting": "policy.programme_weights.energy_industry", "a": "(default)", "b": 0.5},
    ]
