"""Running a calibration experiment: fit, check run, result tables. Writes data, no report.

Output folder (default ``results/<experiment name>/``), every file written atomically:

- ``runs/``: every model run by run id (the ensemble runner's store; a killed calibration
  started again with the same command resumes from it);
- ``calibrated.yaml``: the base scenario with the calibrated parameters;
- ``fit.csv``: ``indicator, year, place, observed, sim_mean, sim_sd, error, z, used_for``
  (``fit``, ``holdout``, ``initial`` for the start-year state, ``not_simulated``);
- ``params.csv``: ``name, value, low, high, fixed, on_bound``;
- ``history.csv``: every evaluation of the search;
- ``missing_years.csv``: years observed for an indicator elsewhere but not for a place;
- ``posterior.csv`` (method ``abc``): the weighted posterior sample with provenance columns;
- ``check.parquet``: the check run's timeseries; ``summary.json``.

With ``write_data: true`` the calibrated values also go into the data folder's
``parameters.csv`` and (ABC) ``posterior.csv``. Figures and the HTML report are made from
the folder by :func:`urban_sim.reports.calibration.write_report`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.config import dump_scenario
from urban_sim.data.posterior import POSTERIOR_FILE, posterior_table
from urban_sim.errors import CalibrationError
from urban_sim.files import prepare_out_dir, write_table, write_text
from urban_sim.runs.ensemble import plan_runs, run_ensemble
from urban_sim.runs.executors import make_executor
from urban_sim.runs.store import ResultsStore

from .abc import ABCCalibrator
from .base import Calibrator
from .experiment import Setup
from .msm import MSMCalibrator
from .observations import compare, missing_years, read_observations, select


@dataclass
class CalibrationResult:
    """What :func:`run_calibration` produced (also written to ``out_dir``)."""

    calibrator: Calibrator
    fit: pd.DataFrame
    check: pd.DataFrame
    summary: dict
    out_dir: Path


def make_calibrator(setup: Setup, store_dir: Path | None, progress: bool) -> Calibrator:
    """The experiment's calibrator (settings only; not fitted)."""
    exp = setup.experiment
    common = {"replicates": exp.replicates, "workers": exp.workers, "store_dir": store_dir,
              "progress": progress}
    if exp.method == "msm":
        o = exp.optimizer
        return MSMCalibrator(setup.scenario, setup.bounds, maxiter=o.maxiter, popsize=o.popsize,
                             tol=o.tol, mutation=o.mutation, recombination=o.recombination,
                             polish=o.polish, seed=o.seed, **common)
    a = exp.abc
    return ABCCalibrator(setup.scenario, setup.bounds, population_size=a.population_size,
                         generations=a.generations, quantile=a.quantile,
                         max_evaluations=a.max_evaluations, seed=a.seed, **common)


def check_run(setup: Setup, params: dict[str, float], store: ResultsStore, *,
              workers: int = 1) -> pd.DataFrame:
    """Replicates of the calibrated model from the start year (``check:`` settings).

    ``check.replicates`` runs at ``check.scale`` (default the experiment's), seeds spawned from
    ``check.seed`` (default the experiment's seed + 1, so not the seeds the search used), through
    the ensemble runner.
    """
    chk = setup.experiment.check
    sc = setup.scenario.model_copy(update={
        "parameters": {**setup.scenario.parameters, **params},
        "scale": chk.scale or setup.scenario.scale})
    seed = setup.experiment.seed + 1 if chk.seed is None else chk.seed
    specs = plan_runs([sc], chk.replicates, seed)
    with make_executor("processes", workers=min(workers, chk.replicates)) as ex:
        res = run_ensemble(specs, store, ex)
    if res.n_failed or res.failures:
        raise CalibrationError(f"check run failed: {res.failures[0].get('error')}")
    return res.timeseries.drop(columns="run_id")


def fit_table(observations: pd.DataFrame, simulated: pd.DataFrame, used_for: np.ndarray,
              start_year: int, end_year: int) -> pd.DataFrame:
    """fit.csv: each observation with the simulated mean and sd and its role."""
    obs = observations.assign(used_for=used_for)
    inside = obs["year"].between(start_year, end_year).to_numpy()
    obs.loc[~inside, "used_for"] = "not_simulated"
    obs.loc[inside & (obs["year"] == start_year).to_numpy(), "used_for"] = "initial"
    cmp = compare(obs[inside], simulated) if inside.any() else obs.iloc[:0]
    table = pd.concat([cmp, obs[~inside]], ignore_index=True)
    table = table.rename(columns={"value": "observed"})
    cols = ["indicator", "year", "place", "observed", "uncertainty", "uncertainty_kind",
            "sim_mean", "sim_sd", "error", "z", "used_for", "unit", "status", "source"]
    return table.reindex(columns=cols)


def calibrated_yaml(setup: Setup, params: dict[str, float], loss: float, method: str) -> str:
    """The base scenario with the calibrated values under ``parameters:`` (a complete file)."""
    base = setup.base
    scenario = base.model_copy(update={
        "name": "calibrated",
        "description": f"{base.name} with parameters calibrated by "
                       f"'{setup.experiment.name}' ({method})",
        "extends": None,
        "parameters": {**base.parameters, **{k: round(float(v), 6) for k, v in params.items()}}})
    header = (
        f"# Calibrated scenario, written by `urban-sim calibrate {setup.path.name}`\n"
        f"# on {dt.date.today().isoformat()}: method {method}, start year "
        f"{setup.experiment.start_year}, scale {setup.experiment.scale}, "
        f"{setup.experiment.replicates} replicate(s) per evaluation (common random numbers), "
        f"loss {loss:.4g}.\n")
    return header + dump_scenario(scenario)


def write_parameters_table(data_dir: Path, params: dict[str, float], source: str) -> Path:
    """Set ``value`` (and ``source``, ``status`` = derived) of the calibrated rows of
    ``parameters.csv`` in ``data_dir``; every other line is kept byte for byte."""
    path = data_dir / "parameters.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    col = {name: i for i, name in enumerate(next(csv.reader([lines[0]])))}
    for i, line in enumerate(lines[1:], start=1):
        row = next(csv.reader([line]), [])
        if row and row[0] in params:
            row[col["value"]] = f"{float(params[row[0]]):.6g}"
            row[col["source"]] = source
            row[col["status"]] = "derived"
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(row)
            lines[i] = buf.getvalue()
    return write_text(path, "".join(lines))


def shift_posterior(data_dir: Path, new: dict[str, float], source: str) -> dict[str, float]:
    """Move the particles of ``posterior.csv`` by ``new − current table value`` for each
    parameter in both (limited to the table's ``low``–``high``); returns the shifts."""
    from urban_sim.data.tables import load_county

    path = data_dir / POSTERIOR_FILE
    if not path.is_file():
        raise CalibrationError(f"{path}: shift_posterior needs a posterior sample (run the ABC "
                               "experiment first)")
    data = load_county(data_dir)
    post = pd.read_csv(path, encoding="utf-8-sig")
    shifts = {n: float(v) - data.parameters[n] for n, v in new.items() if n in post.columns}
    for n, d in shifts.items():
        lo, hi = data.parameter_ranges[n]
        post[n] = (post[n] + d).clip(lo, hi)
    post["source"] = post["source"].astype(str) + f"; shifted by {shifts} ({source})"
    write_table(path, post)
    return shifts


def run_calibration(setup: Setup, out_dir: str | Path | None = None, *,
                    progress: bool = False) -> CalibrationResult:
    """Fit the experiment's parameters, run the check, and write the result tables.

    Parameters
    ----------
    setup : Setup
        From :func:`~urban_sim.calibration.experiment.load_experiment`.
    out_dir : str or Path, optional
        Default ``results/<experiment name>``. Finished runs in ``out_dir/runs`` are reused.
    progress : bool
        Show progress on stderr.

    Raises
    ------
    CalibrationError
        Unreadable observations, no observation left to fit, or a failed model run.
    """
    exp = setup.experiment
    started = time.perf_counter()
    out = prepare_out_dir(out_dir or Path("results") / exp.name)
    obs = read_observations(setup.observations_path, encoding=exp.encoding)
    end_year = setup.scenario.end_year
    holdout = select(obs, [h.model_dump(exclude_none=True) for h in exp.holdout])
    in_run = obs["year"].between(exp.start_year + 1, end_year).to_numpy()
    used_for = np.where(holdout, "holdout", "fit").astype(object)
    fit_rows = obs[in_run & ~holdout].reset_index(drop=True)
    if fit_rows.empty:
        raise CalibrationError(
            f"{setup.observations_path}: no observation after start_year {exp.start_year} and "
            f"up to end_year {end_year} is left to fit (holdout removes the others)")

    cal = make_calibrator(setup, out, progress).fit(fit_rows)
    search_seconds = time.perf_counter() - started
    check = check_run(setup, cal.params_, ResultsStore(out), workers=exp.workers)
    fit = fit_table(obs, check, used_for, exp.start_year, end_year)
    county = check[(check["place"] == "county") & (check["year"] == end_year)]
    last = county.pivot_table(index="replicate", columns="indicator", values="value")

    def loss_of(role: str) -> float:
        return float((fit.loc[fit["used_for"] == role, "z"] ** 2).sum())

    def sd(col: str) -> float:
        return float(last[col].std(ddof=1)) if len(last) > 1 else 0.0

    summary = {
        "experiment": exp.name, "method": exp.method, "loss": cal.loss_,
        "n_evaluations": cal.n_evaluations_, "n_resumed_runs": cal.n_resumed_,
        "replicates": exp.replicates, "scale": exp.scale,
        "check_replicates": exp.check.replicates, "check_scale": exp.check.scale or exp.scale,
        "check_loss_fit": loss_of("fit"), "check_loss_holdout": loss_of("holdout"),
        "n_fit": int((fit["used_for"] == "fit").sum()),
        "n_holdout": int((fit["used_for"] == "holdout").sum()), "end_year": end_year,
        "residents_mean": float(last["resident_population"].mean()),
        "residents_sd": sd("resident_population"),
        "urbanization_mean": float(last["urbanization_rate"].mean()),
        "urbanization_sd": sd("urbanization_rate"),
        "search_seconds": search_seconds, "params": cal.params_,
    }
    names = list(setup.bounds)
    params = pd.DataFrame({
        "name": names, "value": [cal.params_[n] for n in names],
        "low": [setup.bounds[n][0] for n in names], "high": [setup.bounds[n][1] for n in names],
        "fixed": [n in cal.fixed_ for n in names],
        "on_bound": [cal.on_bound_[n] for n in names]})
    write_text(out / "calibrated.yaml", calibrated_yaml(setup, cal.params_, cal.loss_, exp.method))
    write_table(out / "fit.csv", fit)
    write_table(out / "params.csv", params)
    write_table(out / "history.csv", cal.history_)
    write_table(out / "missing_years.csv", missing_years(obs))
    write_table(out / "check.parquet", check)
    point = "best particle of " if isinstance(cal, ABCCalibrator) else ""
    source = (f"calibrated: {exp.method} ({point}experiment '{exp.name}', "
              f"{dt.date.today().isoformat()}) against the rows of "
              f"{setup.observations_path.name}; uniform prior / search box = the experiment's "
              "bounds, which may be narrower than this row's low-high")
    if isinstance(cal, ABCCalibrator):
        post = posterior_table(cal.posterior_, cal.names_, exp.start_year, source)
        write_table(out / POSTERIOR_FILE, post)
        if exp.write_data:
            write_table(setup.data_dir / POSTERIOR_FILE, post)
    if exp.write_data:
        free = {n: v for n, v in cal.params_.items() if n not in cal.fixed_}
        if exp.shift_posterior and exp.method == "msm":
            summary["posterior_shift"] = shift_posterior(setup.data_dir, free, source)
        summary["parameters_table"] = str(write_parameters_table(setup.data_dir, free, source))
    summary["wall_seconds"] = time.perf_counter() - started
    write_text(out / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return CalibrationResult(cal, fit, check, summary, out)
