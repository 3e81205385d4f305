"""Global sensitivity analysis: analytic checks, cases C01-C06, a tiny county run end to end."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from urban_sim.analysis import sensitivity as sa
from urban_sim.analysis.analytic_models import ishigami_indices, sobol_g_indices
from urban_sim.cli import app
from urban_sim.config.experiment import Experiment, load_experiment
from urban_sim.errors import ConfigError, ExperimentError
from urban_sim.runs.executors import make_executor
from urban_sim.reports.sensitivity import write_report

from .conftest import CONFIGS, ROOT

U01 = {"uniform": {"low": 0.0, "high": 1.0}}


def experiment(factors, **kw) -> Experiment:
    """A Python-model experiment; factors as (name, distribution dict) pairs."""
    spec = {"name": "t", "model": "python", "seed": 1, "num_resamples": 20,
            "factors": [{"name": n, **d} for n, d in factors], **kw}
    return Experiment.model_validate(spec)


def write_yaml(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- analytic checks
def test_ishigami_through_the_cli_matches_analytic_indices(tmp_path):
    out = tmp_path / "ish"
    r = CliRunner().invoke(app, ["sensitivity", str(ROOT / "experiments/ishigami_sobol.yaml"),
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    idx = pd.read_csv(out / "indices.csv")
    s1, st = ishigami_indices(7.0, 0.1)
    np.testing.assert_allclose(idx["S1"], s1, atol=0.02)
    np.testing.assert_allclose(idx["ST"], st, atol=0.02)
    np.testing.assert_allclose(s1, [0.314, 0.442, 0.0], atol=1e-3)
    np.testing.assert_allclose(st, [0.558, 0.442, 0.244], atol=1e-3)
    assert list(idx.columns[:8]) == ["output", "factor", "kind", "factor_kind", "S1", "S1_conf",
                                     "ST", "ST_conf"]
    for name in ("sample.parquet", "sample.json", "runs.parquet", "noise.csv", "report.html",
                 "figures/ranking_heatmap.png", "figures/composite_bars.png"):
        assert (out / name).is_file(), name
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 2048 * 5 and runs["run_id"].is_unique


def test_sobol_g_matches_analytic_indices():
    a = [0.0, 1.0, 4.5, 99.0]
    exp = Experiment.model_validate({
        "name": "g", "model": "sobol_g", "model_options": {"a": a}, "N": 4096, "seed": 3,
        "num_resamples": 20, "factors": [{"name": f"x{i}", **U01} for i in range(4)]})
    res = sa.run_sensitivity(exp)
    s1, st = sobol_g_indices(a)
    np.testing.assert_allclose(res.indices["S1"], s1, atol=0.03)
    np.testing.assert_allclose(res.indices["ST"], st, atol=0.03)
    assert res.indices.loc[3, "ST"] < 0.01  # a = 99: no influence


# ---------------------------------------------------------------------- C01 NaN outputs
def _emptying_county(v: pd.DataFrame) -> pd.DataFrame:
    share = 0.3 + 2 * v["migration_rate"] + v["land_reform"] * v["hukou"]
    return pd.DataFrame({"urban_share": share.where(v["migration_rate"] < 0.9)})


class TestC01NaNOutputs:
    factors = [("migration_rate", U01), ("land_reform", U01), ("hukou", U01)]

    def test_stops_before_analysis_naming_runs_and_values(self, tmp_path):
        exp = experiment(self.factors, N=16)
        with pytest.raises(ExperimentError, match=r"of 80 runs returned NaN") as err:
            sa.run_sensitivity(exp, tmp_path, model=_emptying_county)
        runs = pd.read_parquet(tmp_path / "runs.parquet")
        bad = runs[runs["migration_rate"] >= 0.9]
        assert len(bad) > 0 and f"{len(bad)} of 80 runs" in str(err.value)
        assert all(rid in str(err.value) for rid in bad["run_id"])
        assert "migration_rate=" in str(err.value)
        assert not (tmp_path / "indices.csv").exists()
        assert len(runs) == 80  # nothing dropped
        assert json.loads((tmp_path / "sample.json").read_text())["nan_policy"] == "fail"

    def test_impute_mean_is_opt_in_and_recorded(self, tmp_path):
        exp = experiment(self.factors, N=16, nan_policy="impute_mean")
        with pytest.warns(sa.SensitivityWarning, match="impute_mean"):
            res = sa.run_sensitivity(exp, tmp_path, model=_emptying_county)
        assert res.meta["nan_policy"] == "impute_mean" and res.meta["imputed"]["urban_share"] > 0
        assert np.isfinite(res.indices[["S1", "ST", "S1_conf", "ST_conf"]].to_numpy()).all()
        assert json.loads((tmp_path / "analysis.json").read_text())["imputed"]


# ---------------------------------------------------------------------- C02 constant output
def _with_land_area(jitter: float):
    def model(v):
        share = 0.2 + v["a"] + 0.5 * v["b"] ** 2 + 0.1 * v["a"] * v["c"]
        land = 1234.5 + jitter * np.sin(np.arange(len(v)))
        return pd.DataFrame({"total_land_area": land, "urban_share": share})
    return model


class TestC02ConstantOutput:
    factors = [("a", U01), ("b", U01), ("c", U01)]

    @pytest.mark.parametrize("jitter", [0.0, 1e-13])
    def test_constant_output_gives_zero_flagged_rows_and_one_warning(self, jitter):
        exp = experiment(self.factors, N=16)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = sa.run_sensitivity(exp, model=_with_land_area(jitter))
        idx = res.indices
        const = idx[idx["output"] == "total_land_area"]
        assert (const[["S1", "ST", "S1_conf", "ST_conf"]] == 0).all().all()
        assert (const["flag"] == "output constant").all()
        assert np.isfinite(idx.select_dtypes("number").to_numpy()).all()
        msgs = [str(w.message) for w in caught if "constant" in str(w.message)]
        assert len(msgs) == 1 and "total_land_area" in msgs[0] and "urban_share" not in msgs[0]
        alone = sa.run_sensitivity(exp, model=lambda v: _with_land_area(0)(v)[["urban_share"]])
        cols = ["S1", "S1_conf", "ST", "ST_conf"]
        pd.testing.assert_frame_equal(
            idx[idx["output"] == "urban_share"][cols].reset_index(drop=True),
            alone.indices[cols].reset_index(drop=True))


# ---------------------------------------------------------------------- C03 CI spans zero
class TestC03IntervalsSpanningZero:
    def test_dummy_lever_is_flagged_and_raw_values_kept(self, tmp_path):
        names = ["l1", "l2", "l3", "l4", "l5", "dummy_lever"]
        exp = experiment([(n, U01) for n in names], N=8, second_order=True)

        def model(v):
            return pd.DataFrame({"y": np.sin(6 * v["l1"]) + 2 * v["l2"] * v["l3"] + v["l4"]
                                 + 0.2 * v["l5"] ** 2})

        with pytest.warns(sa.SensitivityWarning, match="increase N"):
            res = sa.run_sensitivity(exp, tmp_path, model=model)
        csv = pd.read_csv(tmp_path / "indices.csv", keep_default_na=False)
        dummy = csv[csv["factor"] == "dummy_lever"].iloc[0]
        assert dummy["ST"] - dummy["ST_conf"] <= 0 <= dummy["ST"] + dummy["ST_conf"]
        assert "not distinguishable from 0" in dummy["flag"]
        raw = csv[["S1"] + [c for c in csv.columns if c.startswith("S2_") and "conf" not in c]]
        assert (raw.to_numpy(float) < 0).any()  # negative estimates are not clipped in the CSV
        assert "S2_dummy_lever" in csv.columns
        np.testing.assert_allclose(csv["S1"], res.indices["S1"])


# ---------------------------------------------------------------------- C04 sample size
class TestC04SampleSizeAndSecondOrder:
    factors = [(f"x{i}", U01) for i in range(5)]

    @staticmethod
    def model(v):
        return pd.DataFrame({"y": v["x0"] + 2 * v["x1"] * v["x2"] + v["x3"] ** 2})

    @pytest.mark.parametrize(("second_order", "runs"), [(False, 448), (True, 768)])
    def test_run_counts_match_the_formulas(self, second_order, runs):
        exp = experiment(self.factors, N=64, second_order=second_order)
        res = sa.run_sensitivity(exp, model=self.model)
        assert res.meta["n_runs"] == runs == sa.sobol_rows(64, 5, second_order)
        assert ("S2_x1" in res.indices.columns) == second_order

    def test_mismatched_override_fails_with_row_counts(self, tmp_path):
        sa.run_sensitivity(experiment(self.factors, N=64), tmp_path, model=self.model)
        with pytest.raises(ExperimentError, match=r"needs 768 rows.*has 448 rows"):
            sa.reanalyse(tmp_path, second_order=True)
        res = sa.reanalyse(tmp_path)  # the flag comes from the saved metadata
        assert not res.meta["second_order"] and len(res.indices) == 5

    def test_cli_override_on_reuse_exits_2(self, tmp_path):
        sa.run_sensitivity(experiment(self.factors, N=64), tmp_path, model=self.model)
        exp_file = write_yaml(tmp_path / "e.yaml", "name: t\nmodel: python\nfactors:\n"
                              "  - {name: x0, uniform: {low: 0, high: 1}}\n")
        r = CliRunner().invoke(app, ["sensitivity", str(exp_file), "--out", str(tmp_path),
                                     "--reuse", "--second-order"])
        assert r.exit_code == 2
        assert "768" in r.output and "448" in r.output and "Traceback" not in r.output

    def test_n_not_power_of_two_suggests_128(self):
        with pytest.warns(sa.SensitivityWarning, match="N: 128"):
            sa.make_design(experiment(self.factors, N=100))


# ---------------------------------------------------------------------- C05 distributions
class TestC05NonUniformDistributions:
    def test_bare_bounds_rejected_for_named_distributions(self, tmp_path):
        f = write_yaml(tmp_path / "e.yaml", "name: t\nmodel: python\nfactors:\n"
                       "  - name: migration_rate\n    bounds: [0.03, 0.01]\n")
        with pytest.raises(ConfigError, match=r"e.yaml:4: factors\[0\]: .*bare 'bounds'"):
            load_experiment(f)

    def test_lognormal_takes_real_space_mean_and_sd(self):
        exp = experiment([("land_price_growth", {"lognormal": {"mean": 0.05, "sd": 0.01}})],
                         N=512)
        design = sa.make_design(exp)
        x = design.values["land_price_growth"].to_numpy()
        assert len(x) == 1024  # A and B of a one-factor design
        assert abs(x.mean() - 0.05) / 0.05 < 0.02
        assert abs(x.std() - 0.01) / 0.01 < 0.1

    def test_morris_truncates_unbounded_normal_at_quantiles(self):
        exp = experiment([("migration_rate", {"normal": {"mean": 0.03, "sd": 0.01}}),
                          ("other", U01)], method="morris",
                         morris={"trajectories": 10, "levels": 4, "truncate": [0.01, 0.99]})
        x = sa.make_design(exp).values["migration_rate"]
        assert np.isfinite(x).all()
        lo, hi = stats.norm(0.03, 0.01).ppf([0.01, 0.99])
        assert x.min() == pytest.approx(lo) and x.max() == pytest.approx(hi)
        res = sa.run_sensitivity(exp, model=lambda v: pd.DataFrame({"y": v["migration_rate"]}))
        m = res.morris.set_index("factor")
        assert m.loc["migration_rate", "mu_star"] > 0 and m.loc["other", "mu_star"] == 0


# ---------------------------------------------------------------------- C06 ranges
class TestC06DegenerateRanges:
    def test_equal_bounds_fix_the_factor(self, tmp_path):
        exp = experiment([("hukou_reform_year", {"uniform": {"low": 2015, "high": 2015}}),
                          ("a", U01), ("b", U01)], N=16)
        seen = []

        def model(v):
            seen.append(v["hukou_reform_year"].unique())
            return pd.DataFrame({"y": v["a"] + v["b"] ** 2})

        res = sa.run_sensitivity(exp, tmp_path, model=model)
        write_report(tmp_path, exp, res)
        assert res.meta["D"] == 2 and res.meta["n_runs"] == 16 * 4
        assert "hukou_reform_year" not in set(res.indices["factor"])
        assert list(seen[0]) == [2015]
        assert "hukou_reform_year fixed = 2015" in (tmp_path / "report.html").read_text()

    def test_reversed_range_names_factor_and_both_numbers(self, tmp_path):
        f = write_yaml(tmp_path / "e.yaml", "name: t\nmodel: python\nfactors:\n"
                       "  - {name: land_conversion_rate, uniform: {low: 0.3, high: 0.2}}\n")
        with pytest.raises(ConfigError, match=r"land_conversion_rate.*low \(0.3\).*high \(0.2\)"):
            load_experiment(f)

    def test_loguniform_low_not_positive_fails_at_load(self, tmp_path):
        f = write_yaml(tmp_path / "e.yaml", "name: t\nmodel: python\nfactors:\n"
                       "  - {name: subsidy, loguniform: {low: 0, high: 1000}}\n")
        with pytest.raises(ConfigError, match=r"subsidy.*loguniform needs 0 < low"):
            load_experiment(f)

    def test_unknown_key_names_file_line_and_nearest(self, tmp_path):
        f = write_yaml(tmp_path / "e.yaml", "name: t\nmodel: python\nreplicats: 3\nfactors:\n"
                       "  - {name: a, uniform: {low: 0, hihg: 1}}\n")
        with pytest.raises(ConfigError) as err:
            load_experiment(f)
        assert "e.yaml:3: unknown key 'replicats' (did you mean 'replicates'?)" in str(err.value)
        assert "did you mean 'high'?" in str(err.value)


# ---------------------------------------------------------------------- county model
def test_task_area_shares_are_renormalised():
    from urban_sim.config import load_scenario

    raw = load_scenario(CONFIGS / "plan.yaml").model_dump(mode="json")
    p = "policy.investment.task_area_shares"
    over = sa.point_overrides(raw, {f"{p}.industry": 0.45})
    shares = {k.rsplit(".", 1)[1]: v for k, v in over.items() if k.startswith(p)}
    assert sum(shares.values()) == pytest.approx(1.0) and shares["industry"] == 0.45
    base = raw["policy"]["investment"]["task_area_shares"]
    assert shares["ecology"] / shares["heritage"] == pytest.approx(base["ecology"] / base["heritage"])


def test_tiny_county_design_end_to_end(tmp_path):
    exp_file = write_yaml(tmp_path / "tiny.yaml", f"""
name: tiny
scenario: {CONFIGS / 'plan.yaml'}
N: 4
replicates: 2
seed: 7
scale: 0.005
end_year: 2022
factors:
  - {{name: uncertainties.energy_price_index, kind: uncertainty, uniform: {{low: 0.6, high: 1.5}}}}
  - {{name: parameters.asc_seat, kind: uncertainty, uniform: {{low: 1.4, high: 6.4}}}}
""")
    exp = load_experiment(exp_file)
    with make_executor("processes", workers=2) as ex:
        res = sa.run_sensitivity(exp, tmp_path / "out", executor=ex)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert len(runs) == 4 * (2 + 2) * 2 and runs["run_id"].is_unique
    assert {"urbanization_rate_2022", "county_seat_population_2022", "jobs_nonfarm_2022"} <= set(runs)
    # common random numbers: replicate k of every point uses the same seed, so a point repeated
    # in the design (none here) or re-run gives the same value; parallel equals sequential
    again = sa.evaluate(exp, sa.make_design(exp))
    pd.testing.assert_frame_equal(runs, again, check_dtype=False)
    assert res.noise["seed_noise_share"].between(0, 1).all()
    assert np.isfinite(res.indices[["S1", "ST"]].to_numpy()).all()
    write_report(tmp_path / "out", exp, res)
    assert (tmp_path / "out" / "report.html").is_file()


def test_dry_run_prints_runs_and_time_and_writes_nothing(tmp_path):
    out = tmp_path / "dry"
    r = CliRunner().invoke(app, ["sensitivity", str(ROOT / "experiments/ishigami_sobol.yaml"),
                                 "--dry-run", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "10240 model runs" in r.output and "estimated time" in r.output
    assert not out.exists()


@pytest.mark.parametrize("name", ["ishigami_sobol", "levers_morris", "levers_sobol"])
def test_shipped_experiments_load(name):
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml")
    if name == "levers_sobol":
        assert len(exp.levers) >= 14 and exp.scenarios.n >= 4 and exp.N >= 1024
        assert exp.scenario_path().is_file()


def test_factor_outside_the_parameter_range_is_an_error_before_any_run(tmp_path):
    f = tmp_path / "oob.yaml"
    f.write_text(
        "name: oob\nmethod: sobol\nN: 4\nscale: 0.005\nend_year: 2022\n"
        f"scenario: {CONFIGS / 'plan.yaml'}\n"
        "factors:\n"
        "  - {name: parameters.asc_seat, kind: uncertainty, uniform: {low: 1.0, high: 9.0}}\n"
        "  - {name: policy.levers.land_reform, kind: lever, uniform: {low: 0.0, high: 1.0}}\n",
        encoding="utf-8")
    for extra in (["--dry-run"], ["--out", str(tmp_path / "o")]):
        r = CliRunner().invoke(app, ["sensitivity", str(f), *extra])
        assert r.exit_code == 2, r.output
        assert "allowed range [0.4, 6.4]" in r.output and "oob.yaml" in r.output
    assert not (tmp_path / "o" / "runs.parquet").exists()


def test_outputs_dominated_by_seed_noise_are_flagged():
    rng = np.random.default_rng(0)
    n_points, reps = 50, 2
    signal = np.repeat(np.linspace(0, 1, n_points), reps)
    runs = pd.DataFrame({"point": np.repeat(np.arange(n_points), reps),
                         "clean": signal + 0.01 * rng.standard_normal(n_points * reps),
                         "noisy": 0.01 * signal + rng.standard_normal(n_points * reps)})
    outputs = ["clean", "noisy"]
    means = runs.groupby("point")[outputs].mean().to_numpy()
    noise = sa.noise_table(runs, outputs)
    assert sa.noisy_outputs(noise, means, outputs, reps) == ["noisy"]
    assert sa.noisy_outputs(noise, means, outputs, 1) == []
