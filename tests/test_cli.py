"""The CLI end to end at small scale."""

from __future__ import annotations

import re

import json

import numpy as np

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
    assert len(targets) == len(lin_data.plan_targets) == 48
    assert {"mean", "p05", "p95", "p_met"} <= set(targets.columns)
    assert targets["p_met"].between(0, 1).all()
    by_year = targets.groupby("year")["decided_before_policy"].agg(["sum", "size"])
    assert by_year.loc[2027, "sum"] == 0 and 0 < by_year.loc[2025, "sum"] < by_year.loc[2025, "size"]
    capped = targets.dropna(subset=["uncapped"])
    assert len(capped) >= 8 and (capped["uncapped"] >= capped["value"] - 1e-9).all()
    assert "extends: null" in (out / "scenario.resolved.yaml").read_text(encoding="utf-8")
    r = CliRunner().invoke(app, ["report", str(out)])  # a run folder rebuilds on its own
    assert r.exit_code == 0, r.output


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


def test_user_mistakes_give_one_line_and_exit_2(tmp_path, tiny_dir):
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    base = str(CONFIGS / "baseline.yaml")
    o = ["--out", str(tmp_path / "o")]  # never the checkout's results/ (may hold old results)
    cases = [
        (["run", base, "--out", str(afile)], "is a file, not a folder"),
        (["run", base, *o, "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --engine dask"),
        (["run", base, *o, "--engine", "foo"], "--engine 'foo': allowed values"),
        (["run", base, *o, "--engine", "dask", "--scheduler", "notanaddress"],
         "--scheduler notanaddress: cannot connect"),
        (["run", base, *o, "--start-year", "2015"], "command-line option: key 'start_year' = 2015"),
        (["run", str(tmp_path)], "is a folder"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: bad\nscale: '0.5'\n"
                   "parameters: {asc_outside: -50}\n", encoding="utf-8")
    cases.append((["validate", str(bad)], "key 'scale' = '0.5': Input should be a valid number"))
    ok = tmp_path / "ok.yaml"
    ok.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: ok\nparameters: {{asc_outside: -50}}\n",
                  encoding="utf-8")
    cases.append((["validate", str(ok)], "'parameters.asc_outside' = -50.0: allowed range [2.85, 8.85]"))
    tw = (tiny_dir / "townships.csv").read_text(encoding="utf-8").replace(",0.5,0.15,", ",lots,0.15,", 1)
    (tiny_dir / "townships.csv").write_text(tw, encoding="utf-8")
    data = tmp_path / "data.yaml"
    data.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: d\ndata_dir: {tiny_dir}\n", encoding="utf-8")
    cases.append((["run", str(data), "--out", str(tmp_path / "d")],
                  "townships.csv: row 3, column 'population_weight': 'lots' is not a number"))
    for args, message in cases:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (args, r.output)
        assert "Traceback" not in r.output


def test_validate_checks_every_file_and_every_kind(tmp_path):
    r = CliRunner().invoke(app, ["validate", str(CONFIGS / "plan.yaml"), str(tmp_path / "missing.yaml"),
                                 str(CONFIGS.parent / "experiments" / "ishigami_sobol.yaml"),
                                 str(CONFIGS.parent / "experiments" / "calibrate_census.yaml")])
    assert r.exit_code == 2
    assert "plan.yaml: scenario OK" in r.output and "missing.yaml: file not found" in r.output
    assert "sensitivity experiment OK" in r.output and "calibration experiment OK" in r.output


def test_changed_data_is_never_taken_for_a_finished_run(tmp_path, tiny_dir):
    from urban_sim.config import with_overrides
    from urban_sim.runs.ensemble import run_id

    from .conftest import scenario

    sc = with_overrides(scenario(scale=0.5, end_year=2022), {"data_dir": str(tiny_dir)})
    seed = np.random.SeedSequence(1)
    before = run_id(sc, seed)
    par = tiny_dir / "parameters.csv"
    text = par.read_text(encoding="utf-8")
    changed = re.sub(r"^asc_outside,[^,]+,", "asc_outside,5.9,", text, flags=re.M)
    assert changed != text
    par.write_text(changed, encoding="utf-8")
    assert run_id(sc, seed) != before


TINY_ARGS = ["--scale", "0.004", "--end-year", "2021", "--engine", "sequential"]


def test_version_and_flags_in_help():
    from urban_sim import __version__

    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"urban-sim {__version__}"
    r = CliRunner().invoke(app, ["run", "--help"], terminal_width=100)
    assert r.exit_code == 0
    assert "<bool>" not in r.output and "BOOLEAN" not in r.output  # flags take no value
    assert "--set KEY=VALUE" in r.output and "--fresh" in r.output


def test_set_overrides_dotted_keys_and_is_checked_like_the_file(tmp_path):
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["run", "plan", *TINY_ARGS, "--out", str(out),
                                 "--set", "policy.levers.land_reform=0.7", "--set", "seed=5"])
    assert r.exit_code == 0, r.output
    resolved = (out / "scenario.resolved.yaml").read_text(encoding="utf-8")
    assert "land_reform: 0.7" in resolved and "seed: 5" in resolved
    r = CliRunner().invoke(app, ["run", "plan", *TINY_ARGS, "--out", str(tmp_path / "x"),
                                 "--set", "policy.levers.land_reforn=0.7"])
    assert r.exit_code == 2
    assert "unknown key 'policy.levers.land_reforn' (did you mean 'land_reform'?)" in r.output
    r = CliRunner().invoke(app, ["run", "plan", *TINY_ARGS, "--set", "policy.levers.land_reform=7"])
    assert r.exit_code == 2 and "policy.levers.land_reform" in r.output
    r = CliRunner().invoke(app, ["run", "plan", *TINY_ARGS, "--set", "no_equals_sign"])
    assert r.exit_code == 2 and "expected KEY=VALUE" in r.output


def test_output_folder_of_other_settings_is_never_overwritten(tmp_path):
    out = tmp_path / "o"
    base = ["run", "baseline", *TINY_ARGS, "--out", str(out)]
    assert CliRunner().invoke(app, base).exit_code == 0
    runs = sorted((out / "runs").iterdir())
    r = CliRunner().invoke(app, [*base, "--seed", "99"])  # other settings: refused
    assert r.exit_code == 2 and "--fresh" in r.output and "seed" in r.output
    assert sorted((out / "runs").iterdir()) == runs
    r = CliRunner().invoke(app, [*base, "--replicates", "2"])  # same settings: extends
    assert r.exit_code == 0, r.output
    assert len(list((out / "runs").iterdir())) == 2
    r = CliRunner().invoke(app, [*base, "--seed", "99", "--fresh"])
    assert r.exit_code == 0, r.output
    assert len(list((out / "runs").iterdir())) == 1 and "seed: 99" in (
        out / "scenario.resolved.yaml").read_text(encoding="utf-8")
    (out / "settings.json").unlink()  # results without a settings record: refused too
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 2 and "--fresh" in r.output


def test_report_of_a_missing_folder_says_so(tmp_path):
    r = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "nope: no such folder" in r.output
    (tmp_path / "f").write_text("x")
    r = CliRunner().invoke(app, ["report", str(tmp_path / "f")])
    assert r.exit_code == 2 and "is a file" in r.output


def test_report_rebuilds_a_sensitivity_folder_and_guards_it(tmp_path):
    from .conftest import EXPERIMENTS

    exp = tmp_path / "ishi.yaml"
    exp.write_text((EXPERIMENTS / "ishigami_sobol.yaml").read_text(encoding="utf-8")
                   .replace("N: 2048", "N: 64").replace("num_resamples: 200", "num_resamples: 20"),
                   encoding="utf-8")
    out = tmp_path / "s"
    r = CliRunner().invoke(app, ["sensitivity", str(exp), "--out", str(out)])
    assert r.exit_code == 0, r.output
    (out / "report.html").unlink()
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").is_file()
    r = CliRunner().invoke(app, ["sensitivity", str(exp), "--out", str(out), "--seed", "1"])
    assert r.exit_code == 2 and "--fresh" in r.output and "seed" in r.output


def _main_error(capsys, args):
    """Run the console entry point; return (exit status, stderr lines)."""
    from urban_sim.cli import main

    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    else:  # pragma: no cover - main always exits
        code = None
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Usage:" not in err, err
    return code, [ln for ln in err.splitlines() if ln.strip()]


def test_bad_option_values_give_one_line_with_the_allowed_range(capsys):
    base = str(CONFIGS / "baseline.yaml")
    cases = [
        (["run", base, "--scale", "0"], "error: --scale '0': ", "allowed range [0.0001, 1.0]"),
        (["run", base, "--scale=abc"], "error: --scale 'abc': ", "allowed range [0.0001, 1.0]"),
        (["run", base, "-n", "0"], "error: --replicates '0': ", "allowed range [1, 10000]"),
        (["run", base, "--workers", "0"], "error: --workers '0': ", "allowed range [1, 256]"),
        (["run", base, "--no-such-option"], "error: No such option: --no-such-option", ""),
        (["run"], "error: Missing argument 'scenario'", ""),
        (["nosuchcommand"], "error: No such command 'nosuchcommand'", ""),
    ]
    for args, start, allowed in cases:
        code, lines = _main_error(capsys, args)
        assert code == 2, (args, lines)
        assert len(lines) == 1 and lines[0].startswith(start) and allowed in lines[0], (args, lines)


def test_out_of_range_scenario_values_name_the_allowed_range(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {CONFIGS / 'plan.yaml'}\npolicy:\n  levers:\n    land_reform: 1.5\n",
                   encoding="utf-8")
    r = CliRunner().invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and ":4: key 'policy.levers.land_reform' = 1.5: " in r.output, r.output
    assert "(allowed range [0, 1])" in r.output, r.output
    r = CliRunner().invoke(app, ["run", str(CONFIGS / "plan.yaml"), "--set", "scale=0",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "key 'scale' = 0: " in r.output and "(allowed range (0, 1])" in r.output


def test_a_misspelt_shipped_name_suggests_the_nearest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args, name in ((["run", "plann"], "plan"), (["sensitivity", "levers_moris", "--dry-run"],
                                                    "levers_morris")):
        r = CliRunner().invoke(app, args)
        errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
        assert r.exit_code == 2 and len(errors) == 1, r.output
        assert "file not found" in errors[0] and f"(did you mean '{name}'?)" in errors[0], r.output


def test_childcare_values_are_checked_against_their_units(tiny_dir, tmp_path):
    path = tiny_dir / "childcare.csv"
    text = path.read_text(encoding="utf-8")
    assert "take_up_share,2020,0.069," in text
    path.write_text(text.replace("take_up_share,2020,0.069,", "take_up_share,2020,6.9,"), encoding="utf-8")
    r = CliRunner().invoke(app, ["validate", str(tiny_dir)])
    assert r.exit_code == 2 and "childcare.csv: row 3, column 'value': value 6.9 outside [0, 1]" in r.output
    data = tmp_path / "data.yaml"
    data.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: d\ndata_dir: {tiny_dir}\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["run", str(data), "--out", str(tmp_path / "d"), "--scale", "0.004",
                                 "--end-year", "2021", "--engine", "sequential"])
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert r.exit_code == 2 and len(errors) == 1 and "value 6.9 outside [0, 1]" in errors[0], r.output
