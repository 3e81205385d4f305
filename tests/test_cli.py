"""The CLI end to end at small scale."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from urban_sim.cli import app

from .conftest import CONFIGS

COLUMNS = ["scenario", "replicate", "year", "place", "indicator", "value"]


def test_run_writes_the_output_folder(tmp_path, lin_data):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(CONFIGS / "plan.yaml"), "--scale", "0.01",
                                 "--end-year", "2027", "--replicates", "2", "--seed", "42",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("manifest.json", "scenario.resolved.yaml", "timeseries.parquet", "timeseries.csv",
                 "targets.csv", "summary.md", "figures/population_by_place.png",
                 "figures/urbanization_rate.png", "figures/jobs_by_task_area.png",
                 "figures/target_attainment.png"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scenario"] == "plan" and manifest["seed"] == 42 and manifest["scale"] == 0.01
    assert [s["spawn_key"] for s in manifest["replicate_seeds"]] == [[0], [1]]
    assert len(manifest["config_sha256"]) == 64
    ts = pd.read_csv(out / "timeseries.csv", encoding="utf-8")
    assert list(ts.columns) == COLUMNS
    assert sorted(ts["replicate"].unique()) == [0, 1]
    pd.testing.assert_frame_equal(ts, pd.read_parquet(out / "timeseries.parquet"), check_dtype=False)
    targets = pd.read_csv(out / "targets.csv")
    assert set(targets["indicator"]) == set(lin_data.plan_targets["indicator"])
    assert len(targets) == len(lin_data.plan_targets) == 28
    assert {"mean", "p05", "p95", "p_met"} <= set(targets.columns)
    assert targets["p_met"].between(0, 1).all()
    assert "extends: baseline" in (out / "scenario.resolved.yaml").read_text(encoding="utf-8")


def test_validate_accepts_shipped_scenarios_and_data(lin_data):
    r = CliRunner().invoke(app, ["validate", str(CONFIGS / "baseline.yaml"), str(CONFIGS / "plan.yaml"),
                                 str(lin_data.data_dir)])
    assert r.exit_code == 0, r.output
    assert r.output.count("OK") == 3


def test_bad_option_values_exit_2():
    r = CliRunner().invoke(app, ["run", str(CONFIGS / "baseline.yaml"), "--scale", "2"])
    assert r.exit_code == 2
    r = CliRunner().invoke(app, ["run", str(CONFIGS / "baseline.yaml"), "--lang", "fr"])
    assert r.exit_code == 2 and "allowed values are 'en' and 'zh'" in r.output
