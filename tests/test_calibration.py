"""Calibration: observations (C12, C13), experiment files, MSM parameter recovery, ABC, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import OptimizeResult
from typer.testing import CliRunner

from urban_sim.calibration import msm as msm_module
from urban_sim.calibration.abc import ABCCalibrator
from urban_sim.calibration.base import Calibrator
from urban_sim.calibration.experiment import load_experiment, split_bounds
from urban_sim.calibration.msm import MSMCalibrator
from urban_sim.calibration.workflow import run_calibration
from urban_sim.calibration.observations import (
    compare, distance, missing_years, read_observations, select,
)
from urban_sim.cli import app
from urban_sim.config import load_scenario
from urban_sim.errors import CalibrationError, ConfigError
from urban_sim.runs.single import simulate
from urban_sim.runs.seeds import replicate_seeds

from .conftest import CONFIGS, ROOT

OBS_HEADER = "year,place,indicator,value,uncertainty,uncertainty_kind,source,status\n"


def _obs_frame(rows):
    return pd.DataFrame(rows, columns=["year", "place", "indicator", "value", "uncertainty",
                                       "uncertainty_kind", "source"])


def _experiment(tmp_path, body: str, name: str = "exp.yaml"):
    path = tmp_path / name
    path.write_text(f"name: t\nscenario: {CONFIGS / 'baseline.yaml'}\n" + body, encoding="utf-8")
    return path


# ---------------------------------------------------------------- observations (C12, C13)
def test_c12_three_encodings_load_to_identical_tables(tmp_path):
    text = (OBS_HEADER + "2020,临泉镇,resident_population,98978,12000,sd,第七次人口普查,assumed\n"
            "2020,county,urbanization_rate,0.3215,0.005,sd,临县统计,derived\n"
            "2010,county,resident_population,579077,4000,sd,第六次人口普查,observed\n")
    paths = {"utf8": tmp_path / "u.csv", "bom": tmp_path / "b.csv", "gbk": tmp_path / "g.csv"}
    paths["utf8"].write_bytes(text.encode("utf-8"))
    paths["bom"].write_bytes(text.encode("utf-8-sig"))
    paths["gbk"].write_bytes(text.encode("gbk"))
    assert paths["bom"].read_bytes()[:3] == b"\xef\xbb\xbf"
    frames = {k: read_observations(p) for k, p in paths.items()}
    assert list(frames["bom"].columns)[0] == "year"  # no BOM stuck to the first header
    for k in ("bom", "gbk"):
        pd.testing.assert_frame_equal(frames["utf8"], frames[k])
    assert frames["gbk"]["place"].iloc[0] == "临泉镇"
    pd.testing.assert_frame_equal(read_observations(paths["gbk"], encoding="gbk"), frames["utf8"])


def test_c12_undecodable_file_names_the_file_and_the_option(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(OBS_HEADER.encode() + b"2020,\x80\xff,x,1,1,sd,s,observed\n")
    with pytest.raises(CalibrationError, match=r"bad\.csv: cannot decode.*'encoding' option"):
        read_observations(bad)


def test_observation_errors_name_row_and_column(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(OBS_HEADER + "2020,county,x,1,0,sd,s,observed\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"row 2: column 'uncertainty' = .*must be > 0"):
        read_observations(path)
    path.write_text(OBS_HEADER + "2020,county,x,1,1,var,s,observed\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="uncertainty_kind.*sd, weight"):
        read_observations(path)
    path.write_text("year,place,indicator,value\n2020,county,x,1\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="missing column.*uncertainty"):
        read_observations(path)


def test_c13_loss_uses_only_observed_years_and_invents_nothing():
    obs = _obs_frame([
        (2000, "A", "resident_population", 100.0, 10.0, "sd", "s"),
        (2010, "A", "resident_population", 90.0, 10.0, "sd", "s"),
        (2020, "A", "resident_population", 80.0, 10.0, "sd", "s"),
        (2000, "B", "resident_population", 50.0, 5.0, "sd", "s"),
        (2010, "B", "resident_population", 40.0, 5.0, "sd", "s"),
    ])
    years = np.arange(2000, 2021)
    sim = pd.concat([
        pd.DataFrame({"replicate": r, "year": years, "place": place,
                      "indicator": "resident_population", "value": base - years + 2000 + r})
        for r in (0, 1) for place, base in (("A", 101.0), ("B", 52.0))])
    sim.loc[(sim["place"] == "B") & (sim["year"] == 2020), "value"] = 1e9  # must not matter
    table = compare(obs, sim)
    assert len(table) == 5
    assert table.groupby("place").size().to_dict() == {"A": 3, "B": 2}
    assert not ((table["place"] == "B") & (table["year"] == 2020)).any()
    # sim mean = base - (year - 2000) + 0.5; A: 101.5, 91.5, 81.5 -> errors 1.5; B: 52.5, 42.5
    np.testing.assert_allclose(table["error"], [1.5, 1.5, 1.5, 2.5, 2.5])
    assert distance(obs, sim) == pytest.approx(3 * (1.5 / 10) ** 2 + 2 * (2.5 / 5) ** 2)
    miss = missing_years(obs).set_index("place")
    assert miss.loc["B", "missing_years"] == "2020" and miss.loc["A", "missing_years"] == ""
    assert miss.loc["B", "observed_years"] == "2000 2010"


def test_weighted_rows_use_relative_error_and_unreported_rows_are_errors():
    obs = _obs_frame([(2020, "county", "x", 200.0, 4.0, "weight", "s")])
    sim = pd.DataFrame({"replicate": [0], "year": [2020], "place": ["county"],
                        "indicator": ["x"], "value": [210.0]})
    assert distance(obs, sim) == pytest.approx(4.0 * 0.05 ** 2)
    with pytest.raises(CalibrationError, match="indicator 'x'.*does not report it"):
        distance(obs, sim.assign(indicator="y"))


def test_holdout_selectors_match_on_all_given_keys():
    obs = _obs_frame([(2010, "county", "a", 1, 1, "sd", "s"), (2020, "county", "a", 1, 1, "sd", "s"),
                      (2020, "county", "b", 1, 1, "sd", "s")])
    assert select(obs, [{"indicator": "a", "year": 2020}]).tolist() == [False, True, False]
    assert select(obs, [{"indicator": "b"}, {"year": 2010}]).tolist() == [True, False, True]
    assert not select(obs, []).any()


def test_shipped_observations_are_sourced_and_2010_is_the_initial_condition():
    obs = read_observations(ROOT / "data" / "lin_county" / "observations.csv")
    row = obs.set_index(["year", "indicator"])
    assert row.loc[(2020, "resident_population"), "value"] == 394713
    assert row.loc[(2020, "urbanization_rate"), "value"] == pytest.approx(0.3215)
    assert (obs["source"].str.len() > 10).all()
    assert set(obs["year"]) == {2010, 2020}


# ---------------------------------------------------------------- experiment files
def test_equal_bounds_fix_a_parameter_and_remove_it_from_the_optimiser(monkeypatch):
    seen = {}

    def fake_de(func, bounds, **kwargs):
        seen["bounds"] = list(bounds)
        seen["x0_value"] = func.parameters([5.9])
        return OptimizeResult(x=np.array([5.9]), fun=1.5)

    monkeypatch.setattr(msm_module, "differential_evolution", fake_de)
    sc = load_scenario(CONFIGS / "baseline.yaml", {"start_year": 2010, "end_year": 2012,
                                                    "scale": 0.01})
    bounds = {"asc_outside": (5.5, 6.1), "return_hazard_base": (0.02, 0.02)}
    obs = _obs_frame([(2012, "county", "resident_population", 5e5, 5e3, "sd", "s")])
    cal = MSMCalibrator(sc, bounds, workers=1).fit(obs)
    assert seen["bounds"] == [(5.5, 6.1)]  # the fixed parameter never reaches the optimiser
    assert cal.names_ == ["asc_outside"] and cal.fixed_ == {"return_hazard_base": 0.02}
    assert seen["x0_value"] == {"return_hazard_base": 0.02, "asc_outside": 5.9}
    assert cal.params_ == {"asc_outside": 5.9, "return_hazard_base": 0.02}
    assert cal.on_bound_ == {"asc_outside": False, "return_hazard_base": False}
    assert not hasattr(MSMCalibrator(sc, bounds), "params_")  # constructor only stores settings


def test_reversed_bounds_name_the_parameter_and_both_numbers(tmp_path):
    path = _experiment(tmp_path, "parameters:\n  asc_seat: {low: 5.5, high: 3.0}\n")
    with pytest.raises(ConfigError, match=r"parameters\.asc_seat: low \(5\.5\) is above high \(3\)"):
        load_experiment(path)
    with pytest.raises(ConfigError, match="asc_town"):
        split_bounds({"asc_town": (1.0, 0.0)})


def test_unknown_keys_and_parameters_are_errors_with_the_nearest_name(tmp_path):
    path = _experiment(tmp_path, "replicate: 3\nparameters:\n  asc_seat: {}\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml:3: unknown key 'replicate' \(did you mean "
                                          r"'replicates'\?\)"):
        load_experiment(path)
    path = _experiment(tmp_path, "parameters:\n  asc_seat: {lo: 1, high: 2}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'parameters\.asc_seat\.lo' \(did you mean "
                                          r"'low'\?\)"):
        load_experiment(path)
    path = _experiment(tmp_path, "optimizer: {maxiters: 2}\nparameters:\n  asc_seat: {}\n")
    with pytest.raises(ConfigError, match="did you mean 'maxiter'"):
        load_experiment(path)
    path = _experiment(tmp_path, "parameters:\n  asc_sea: {low: 1, high: 2}\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml:4: unknown parameter 'parameters\.asc_sea' "
                                          r"\(did you mean 'asc_seat'\?\)"):
        load_experiment(path)


def test_missing_bounds_come_from_parameters_csv(tmp_path, lin_data):
    setup = load_experiment(_experiment(tmp_path, "parameters:\n  asc_town: {high: 3.0}\n"))
    csv = pd.read_csv(lin_data.data_dir / "parameters.csv").set_index("name")
    assert setup.bounds == {"asc_town": (float(csv.loc["asc_town", "low"]), 3.0)}
    assert setup.scenario.start_year == 2010 and setup.scenario.end_year == 2020  # last obs year
    assert setup.base.start_year == 2020  # the base scenario itself is not changed


# ---------------------------------------------------------------- parameter recovery (MSM)
RECOVERY_TOLERANCE = 0.15
"""|estimated − true| for asc_outside (utility units; its prior range is 2.85-8.85, the search
range 5.1-6.5). At scale 0.02 the seed noise of the synthetic target (other seeds than the
calibration's) leaves the distance flat within about ±0.1 of the truth (last run: 5.717)."""


def test_msm_recovers_a_known_parameter_within_tolerance():
    """Observations generated by the model at asc_outside = 5.6 (other seeds than the
    calibration's) are fitted by a 1-parameter search over [5.1, 6.5] with common random
    numbers; the estimate must lie within RECOVERY_TOLERANCE of 5.6."""
    true = 5.6
    sc = load_scenario(CONFIGS / "baseline.yaml", {"start_year": 2010, "end_year": 2020,
                                                    "scale": 0.02, "seed": 11})
    truth = sc.model_copy(update={"parameters": {"asc_outside": true}})
    sims = pd.concat([simulate(truth, s, k) for k, s in enumerate(replicate_seeds(999, 2))])
    last = sims[(sims["year"] == 2020) & (sims["place"] == "county")]
    means = last.groupby("indicator")["value"].mean()
    obs = _obs_frame([
        (2020, "county", "resident_population", means["resident_population"],
         0.01 * means["resident_population"], "sd", "model"),
        (2020, "county", "urbanization_rate", means["urbanization_rate"], 0.005, "sd", "model"),
    ])
    cal = MSMCalibrator(sc, {"asc_outside": (5.1, 6.5)}, replicates=2, popsize=6, maxiter=6,
                        tol=0.0, seed=3, workers=2).fit(obs)
    estimate = cal.params_["asc_outside"]
    print(f"parameter recovery: true {true}, estimate {estimate:.3f}, "
          f"tolerance ±{RECOVERY_TOLERANCE}, loss {cal.loss_:.3g}, {cal.n_evaluations_} evaluations")
    assert abs(estimate - true) <= RECOVERY_TOLERANCE
    assert cal.loss_ == pytest.approx(cal.history_["loss"].min())
    assert set(cal.history_["generation"]) == set(range(7))  # initial population + 6 generations
    assert cal.loss_ < 4.0  # a good fit: both standardised errors small


# ---------------------------------------------------------------- ABC and end to end
ABC_BODY = f"""
observations: {ROOT / 'data' / 'lin_county' / 'observations.csv'}
scale: 0.01
replicates: 1
method: abc
workers: 2
parameters:
  asc_outside: {{low: 5.3, high: 6.3}}
  asc_seat: {{low: 2.5, high: 4.5}}
abc: {{population_size: 6, generations: 2, quantile: 0.5, max_evaluations: 30}}
check: {{replicates: 1}}
"""


def test_abc_smc_tiny_budget_writes_posterior_and_resumes_without_rerunning(tmp_path):
    from urban_sim.reports.calibration import write_report

    path = _experiment(tmp_path, ABC_BODY)
    result = run_calibration(load_experiment(path), tmp_path / "out")
    cal = result.calibrator
    assert isinstance(cal, ABCCalibrator)
    post = pd.read_csv(tmp_path / "out" / "posterior.csv")
    assert list(post.columns) == ["sample", "asc_outside", "asc_seat", "weight", "distance",
                                  "year", "source", "status"]
    assert post["weight"].sum() == pytest.approx(1.0) and (post["status"] == "derived").all()
    assert post["asc_outside"].between(5.3, 6.3).all() and post["asc_seat"].between(2.5, 4.5).all()
    gen0 = cal.history_[cal.history_["generation"] == 0]["loss"]
    if len(cal.epsilons_) == 2:  # generation 1 completed within the budget
        assert cal.epsilons_[1] == pytest.approx(np.quantile(gen0, 0.5))
        assert (post["distance"] <= cal.epsilons_[1]).all()
    assert not (tmp_path / "out" / "report.html").exists()  # the workflow writes no report
    write_report(tmp_path / "out")
    assert (tmp_path / "out" / "figures" / "pairs.png").stat().st_size > 1000
    # a second call (as after a kill) replays the seeded search from the stored runs
    again = run_calibration(load_experiment(path), tmp_path / "out").calibrator
    assert again.n_resumed_ == again.n_evaluations_  # one replicate per evaluation
    pd.testing.assert_frame_equal(again.posterior_, cal.posterior_)


@pytest.mark.parametrize("cls", [MSMCalibrator, ABCCalibrator])
def test_calibrators_follow_the_estimator_contract(cls):
    """scikit-learn style: the constructor stores its settings unchanged, does no work and
    validates nothing; fit returns self; fitted state ends with an underscore."""
    import inspect

    sc = load_scenario(CONFIGS / "baseline.yaml", {"start_year": 2010, "end_year": 2011,
                                                    "scale": 0.005})
    bounds = {"asc_outside": (5.5, 6.1)}
    settings = {k: p.default for k, p in inspect.signature(cls).parameters.items()
                if p.default is not inspect.Parameter.empty}
    cal = cls(sc, bounds, **settings)
    assert issubclass(cls, Calibrator)
    assert vars(cal) == {"scenario": sc, "bounds": bounds, **settings}
    assert not [k for k in vars(cal) if k.endswith("_")]
    obs = _obs_frame([(2011, "county", "resident_population", 5.5e5, 5e3, "sd", "s")])
    small = {"maxiter": 1, "popsize": 2} if cls is MSMCalibrator else {
        "population_size": 3, "generations": 1, "max_evaluations": 3}
    fitted = cls(sc, bounds, replicates=1, **small)
    assert fitted.fit(obs) is fitted
    state = {k for k in vars(fitted) if k.endswith("_") and not k.startswith("_")}
    assert {"names_", "params_", "loss_", "history_", "n_evaluations_", "on_bound_"} <= state
    assert fitted.loss_ == pytest.approx(fitted.posterior_["distance"].min()
                                         if cls is ABCCalibrator else fitted.history_["loss"].min())
    with pytest.raises(CalibrationError, match="nothing to fit"):
        cls(sc, {"asc_outside": (5.5, 5.5)}).fit(obs)


def test_cli_calibrate_end_to_end_writes_tables_report_and_the_data_folder(tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "lin_county", data)
    (tmp_path / "base.yaml").write_text(
        (CONFIGS / "baseline.yaml").read_text(encoding="utf-8") + f"\ndata_dir: {data}\n",
        encoding="utf-8")
    before = (data / "parameters.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "exp.yaml"
    path.write_text(f"""name: t
scenario: base.yaml
observations: {ROOT / 'data' / 'lin_county' / 'observations.csv'}
write_data: true
scale: 0.01
replicates: 1
parameters:
  asc_outside: {{low: 5.5, high: 6.1}}
  return_hazard_base: {{low: 0.02, high: 0.02}}
holdout:
  - {{indicator: urban_population}}
optimizer: {{maxiter: 1, popsize: 2}}
check: {{replicates: 2}}
""", encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    for name in ("calibrated.yaml", "fit.csv", "params.csv", "history.csv", "missing_years.csv",
                 "check.parquet", "summary.json", "report.html", "report.md",
                 "figures/fit_resident_population_county.png"):
        assert (out / name).is_file(), name
    sc = load_scenario(out / "calibrated.yaml")
    params = pd.read_csv(out / "params.csv").set_index("name")
    assert sc.name == "calibrated" and sc.start_year == 2020  # the base scenario, not the fit's
    assert sc.parameters["return_hazard_base"] == 0.02
    assert sc.parameters["asc_outside"] == pytest.approx(params.loc["asc_outside", "value"])
    assert 5.5 <= sc.parameters["asc_outside"] <= 6.1
    assert bool(params.loc["return_hazard_base", "fixed"])
    # write_data: the free parameter's row of parameters.csv changes, nothing else
    after = (data / "parameters.csv").read_text(encoding="utf-8").splitlines()
    changed = [a for a, b in zip(after, before, strict=True) if a != b]
    assert len(changed) == 1 and changed[0].startswith("asc_outside,") and "derived" in changed[0]
    table = pd.read_csv(data / "parameters.csv").set_index("name")
    assert table.loc["asc_outside", "value"] == pytest.approx(params.loc["asc_outside", "value"],
                                                              rel=1e-5)
    fit = pd.read_csv(out / "fit.csv").set_index(["indicator", "year"])
    assert fit.loc[("urban_population", 2020), "used_for"] == "holdout"
    assert fit.loc[("resident_population", 2020), "used_for"] == "fit"
    assert fit.loc[("resident_population", 2010), "used_for"] == "initial"
    assert {"observed", "sim_mean", "sim_sd", "error", "z"} <= set(fit.columns)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Holdout loss" in html and "data:image/png;base64," in html
    assert "2020 residents" in r.output and "loss" in r.output
    (out / "report.html").unlink()
    r = CliRunner().invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").is_file()


def test_cli_calibrate_bad_file_exits_2_with_one_line(tmp_path):
    r = CliRunner().invoke(app, ["calibrate", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error:") and "nope.yaml: file not found" in r.output


def test_holdout_that_matches_nothing_is_an_error():
    from urban_sim.calibration.observations import select
    from urban_sim.errors import CalibrationError

    obs = pd.DataFrame({"year": [2020], "place": ["county"], "indicator": ["resident_population"]})
    assert select(obs, [{"indicator": "resident_population"}]).tolist() == [True]
    with pytest.raises(CalibrationError, match="urban_populaton.*matches no observation"):
        select(obs, [{"indicator": "urban_populaton"}])


# ---------------------------------------------------------------- posterior uncertainty
def test_variance_split_recovers_known_parameter_and_seed_parts():
    from urban_sim.calibration.uncertainty import variance_split

    rng = np.random.default_rng(0)
    theta = rng.normal(0.0, 2.0, size=400)            # parameter part: variance 4
    noise = rng.normal(0.0, 1.0, size=(400, 5))       # seed part: variance 1
    frame = pd.DataFrame({"draw": np.repeat(np.arange(400), 5),
                          "value": (theta[:, None] + noise).ravel()})
    s = variance_split(frame)
    assert s["parameter_var"] == pytest.approx(4.0, rel=0.15)
    assert s["seed_var"] == pytest.approx(1.0, rel=0.1)
    assert s["parameter_share"] == pytest.approx(0.8, abs=0.04)
    flat = frame.assign(value=noise.ravel())          # no parameter effect at all
    assert variance_split(flat)["parameter_share"] < 0.05


def test_parameters_from_posterior_draws_one_particle_per_replicate(tmp_path, lin_data):
    import shutil

    from urban_sim.data.posterior import draw_parameters
    from urban_sim.model.county import CountyModel

    data = tmp_path / "data"
    shutil.copytree(lin_data.data_dir, data)
    pd.DataFrame({"sample": [0, 1], "asc_outside": [5.2, 6.2], "weight": [0.5, 0.5],
                  "distance": [1.0, 1.0], "year": 2010, "source": "test",
                  "status": "derived"}).to_csv(data / "posterior.csv", index=False)
    seeds = replicate_seeds(5, 40)
    draws = [draw_parameters(data, s)["asc_outside"] for s in seeds]
    assert set(draws) == {5.2, 6.2} and draws == [draw_parameters(data, s)["asc_outside"]
                                                  for s in seeds]  # reproducible per seed
    sc = load_scenario(CONFIGS / "baseline.yaml", {"scale": 0.005, "end_year": 2021,
                                                    "data_dir": str(data),
                                                    "parameters_from": "posterior"})
    m = CountyModel(sc, seed=seeds[0])
    assert m.params["asc_outside"] == draws[0]
    m.close()
    pinned = sc.model_copy(update={"parameters": {"asc_outside": 5.9}})
    m = CountyModel(pinned, seed=seeds[0])
    assert m.params["asc_outside"] == 5.9  # an explicit scenario value wins
    m.close()


def test_cli_calibrate_unknown_language_exits_2_before_any_run(tmp_path):
    r = CliRunner().invoke(app, ["calibrate", "calibrate_census", "--lang", "fr",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "fr" in r.output and not (tmp_path / "o").exists()
