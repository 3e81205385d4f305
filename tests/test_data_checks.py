"""Input tables: units with valid ranges (C20), spreadsheet rows of bare delimiters and files
named by experiments (C22)."""

from __future__ import annotations

import logging
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from urban_sim.calibration.observations import read_observations
from urban_sim.cli import app
from urban_sim.data import DEFAULT_DATA_DIR, load_county
from urban_sim.data.units import UNIT_RANGES
from urban_sim.errors import CalibrationError, DataError

from .conftest import CONFIGS, EXPERIMENTS



@pytest.fixture()
def data_copy(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    return folder


def _replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _calibration(tmp_path, observations):
    text = (EXPERIMENTS / "calibrate_census.yaml").read_text(encoding="utf-8")
    text = text.replace("../configs/baseline.yaml", str(CONFIGS / "baseline.yaml"))
    text = text.replace("../data/lin_county/observations.csv", str(observations))
    text = "\n".join(line for line in text.splitlines() if not line.startswith("calibrated_scenario"))
    f = tmp_path / "cal.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_c20_percent_for_a_share_in_plan_targets_is_an_error(data_copy):
    _replace(data_copy / "plan_targets.csv", "rural_scale_water_share,2025,>=,0.42,",
             "rural_scale_water_share,2025,>=,42,")
    with pytest.raises(DataError, match=r"plan_targets.csv: row 12, column 'target': value 42 "
                       r"outside \[0, 1\] for unit 'share'"):
        load_county(data_copy)
    r = CliRunner().invoke(app, ["validate", str(data_copy)])
    assert r.exit_code == 2 and "value 42 outside [0, 1] for unit 'share'" in r.output


def test_c20_percent_for_a_share_in_observations_is_an_error_in_every_command(tmp_path):
    obs = tmp_path / "obs.csv"
    text = (DEFAULT_DATA_DIR / "observations.csv").read_text(encoding="utf-8")
    obs.write_text(text.replace("2020,county,urbanization_rate,0.3215,",
                                "2020,county,urbanization_rate,32.15,"), encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"row 5, column 'value': value 32.15 outside "
                       r"\[0, 1\] for unit 'share'"):
        read_observations(obs)
    f = _calibration(tmp_path, obs)
    for cmd in (["validate", str(f)], ["calibrate", str(f), "--out", str(tmp_path / "o")]):
        r = CliRunner().invoke(app, cmd)
        assert r.exit_code == 2, r.output
        assert "32.15 outside [0, 1] for unit 'share'" in r.output


def test_c20_every_unit_in_the_shipped_data_has_a_range_and_unknown_units_are_errors(data_copy):
    for name in ("census", "parameters", "plan_targets", "stocks", "vital_rates", "observations"):
        units = set(pd.read_csv(DEFAULT_DATA_DIR / f"{name}.csv")["unit"].dropna())
        assert units <= set(UNIT_RANGES), (name, units - set(UNIT_RANGES))
    _replace(data_copy / "stocks.csv", "logistics_coverage,2010,0.1,share,",
             "logistics_coverage,2010,0.1,percent,")
    with pytest.raises(DataError, match=r"stocks.csv: row 2: unknown unit 'percent'"):
        load_county(data_copy)


def test_c20_rate_per_1000_for_a_rate_per_person_is_an_error(data_copy):
    _replace(data_copy / "vital_rates.csv", "mortality,2010,0,4,0.003716,",
             "mortality,2010,0,4,3.716,")
    with pytest.raises(DataError, match=r"vital_rates.csv: row 2, column 'value': value 3.716 "
                       r"outside \[0, 1\] for unit 'deaths per person per year'"):
        load_county(data_copy)


def test_c22_rows_of_bare_delimiters_are_skipped_with_a_note(data_copy, tmp_path, caplog):
    with open(data_copy / "census.csv", "a", encoding="utf-8") as fh:
        fh.write(",,,,,,,,\n,,,,,,,,\n")
    obs = data_copy / "observations.csv"
    with open(obs, "a", encoding="utf-8") as fh:
        fh.write(",,,,,,,,,\n")
    with caplog.at_level(logging.INFO, logger="urban_sim.data.tables"):
        data = load_county(data_copy)
    assert "census.csv: skipped 2 empty row(s)" in caplog.text
    assert len(data.census) == len(load_county(DEFAULT_DATA_DIR).census)
    assert len(read_observations(obs)) == len(read_observations(DEFAULT_DATA_DIR / "observations.csv"))
    r = CliRunner().invoke(app, ["validate", str(data_copy), str(_calibration(tmp_path, obs))])
    assert r.exit_code == 0, r.output


def test_c22_partly_empty_row_is_an_error_naming_the_row(data_copy, tmp_path):
    with open(data_copy / "census.csv", "a", encoding="utf-8") as fh:
        fh.write(",,,,,,,,\n,2020,5,,,,,,\n")
    with pytest.raises(DataError, match=r"census.csv: row \d+ is partly empty: column 'indicator'"):
        load_county(data_copy)
    obs = tmp_path / "obs.csv"
    shutil.copy(DEFAULT_DATA_DIR / "observations.csv", obs)
    with open(obs, "a", encoding="utf-8") as fh:
        fh.write("2020,county,,5,1,sd,persons,x,observed,\n")
    n = len(obs.read_text(encoding="utf-8").splitlines())
    with pytest.raises(CalibrationError, match=rf"row {n} is partly empty: column 'indicator'"):
        read_observations(obs)


def test_c22_validate_checks_files_named_by_experiments(tmp_path):
    f = _calibration(tmp_path, tmp_path / "no_such_observations.csv")
    r = CliRunner().invoke(app, ["validate", str(f)])
    assert r.exit_code == 2
    assert "key 'observations'" in r.output and "no_such_observations.csv: file not found" in r.output
    text = (EXPERIMENTS / "levers_morris.yaml").read_text(encoding="utf-8")
    g = tmp_path / "sens.yaml"
    lines = [f"scenario: {tmp_path / 'missing.yaml'}" if ln.startswith("scenario:") else ln
             for ln in text.splitlines()]
    g.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["validate", str(g)])
    assert r.exit_code == 2 and "key 'scenario': scenario file" in r.output and "not found" in r.output
