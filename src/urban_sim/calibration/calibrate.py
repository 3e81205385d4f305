"""Running a calibration experiment and writing its output folder.

Output folder (default ``results/<experiment name>/``), every file written atomically:

- ``calibrated.yaml``: the base scenario with the calibrated parameters (a complete scenario
  that ``urban-sim run`` accepts and other scenarios can ``extends:``);
- ``fit.csv``: ``indicator, year, place, observed, sim_mean, sim_sd, error, z, used_for``
  (``fit``, ``holdout``, ``initial`` for the start-year state, ``not_simulated``);
- ``params.csv``: ``name, value, low, high, fixed, on_bound``;
- ``history.csv``: every evaluation of the search;
- ``missing_years.csv``: years observed for an indicator elsewhere but not for a place;
- ``posterior.csv`` and ``figures/pairs.png`` (method ``abc``);
- ``figures/fit_<indicator>_<place>.png``: observed points over simulated bands;
- ``report.html``: self-contained report (figures embedded).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from urban_sim.config import dump_scenario
from urban_sim.runs.executors import Failed, make_executor
from urban_sim.runs.single import simulate
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.files import atomic_write, prepare_out_dir, write_table, write_text
from urban_sim.errors import CalibrationError

from .abc import ABCCalibrator
from .calibrator import MSMCalibrator
from .objective import Setup
from .observations import compare, missing_years, read_observations, select


@dataclass
class CalibrationResult:
    """What :func:`run_calibration` produced (also written to ``out_dir``)."""

    calibrator: MSMCalibrator | ABCCalibrator
    fit: pd.DataFrame
    check: pd.DataFrame
    summary: dict
    out_dir: Path


def _run_one(args):
    scenario, seed, k = args
    return simulate(scenario, seed, k)


def check_run(setup: Setup, params: dict[str, float], *, workers: int = 1) -> pd.DataFrame:
    """Replicates of the calibrated model from the start year (``check:`` settings).

    Returns the long timeseries of all ``check.replicates`` replicates at ``check.scale``
    (default: the experiment's scale), seeds spawned from ``check.seed`` (default: the
    experiment's seed + 1, so not the seeds the search used).
    """
    chk = setup.experiment.check
    sc = setup.scenario.model_copy(update={
        "parameters": {**setup.scenario.parameters, **params},
        "scale": chk.scale or setup.scenario.scale})
    seeds = replicate_seeds(setup.experiment.seed + 1 if chk.seed is None else chk.seed,
                            chk.replicates)
    with make_executor("processes", workers=min(workers, chk.replicates)) as ex:
        out = ex.map(_run_one, [(sc, s, k) for k, s in enumerate(seeds)])
    for o in out:
        if isinstance(o, Failed):
            raise CalibrationError(f"check run failed: {o.error}")
    return pd.concat(out, ignore_index=True)


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
            "sim_mean", "sim_sd", "error", "z", "used_for", "source"]
    return table.reindex(columns=cols)


def plot_fit(fit: pd.DataFrame, simulated: pd.DataFrame, indicator: str, place: str) -> Figure:
    """Observed points (±1 sd) over the simulated mean, ±2 sd band and replicate range."""
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    sim = simulated[(simulated["indicator"] == indicator) & (simulated["place"] == place)]
    g = sim.groupby("year")["value"]
    mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
    ax.fill_between(mean.index, g.min(), g.max(), color="#9ecae1", alpha=0.5,
                    label=f"simulated range ({sim['replicate'].nunique()} replicates)")
    ax.fill_between(mean.index, mean - 2 * sd, mean + 2 * sd, color="#3182bd", alpha=0.3,
                    label="simulated mean ± 2 sd")
    ax.plot(mean.index, mean, color="#08519c", lw=1.5, label="simulated mean")
    obs = fit[(fit["indicator"] == indicator) & (fit["place"] == place)]
    style = {"fit": ("o", "#d62728"), "holdout": ("s", "#ff7f0e"),
             "initial": ("D", "#555555"), "not_simulated": ("x", "#999999")}
    for role, frame in obs.groupby("used_for"):
        marker, color = style[role]
        err = np.where(frame["uncertainty_kind"] == "sd", frame["uncertainty"], 0.0)
        ax.errorbar(frame["year"], frame["observed"], yerr=err, fmt=marker, color=color,
                    capsize=3, label=f"observed ({role})")
    ax.set_title(f"{indicator} — {place}")
    ax.set_xlabel("Year")
    ax.legend(fontsize=7)
    return fig


def plot_pairs(posterior: pd.DataFrame, names: list[str]) -> Figure:
    """Pair plot of ABC posterior samples (weighted histograms on the diagonal)."""
    k = len(names)
    fig = Figure(figsize=(2.4 * k + 0.5, 2.4 * k + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(k, k, squeeze=False))
    w = posterior["weight"].to_numpy()
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            if i == j:
                ax.hist(posterior[a], bins=15, weights=w, color="#3182bd")
            else:
                ax.scatter(posterior[b], posterior[a], s=8 + 400 * w, alpha=0.6,
                           color="#08519c")
            if i == k - 1:
                ax.set_xlabel(b)
            if j == 0:
                ax.set_ylabel(a)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))


def _slug(text: str) -> str:
    return re.sub(r"[^\w\-]+", "_", text)


def _calibrated_yaml(setup: Setup, params: dict[str, float], loss: float,
                     replicates: int, method: str) -> str:
    base = setup.base
    scenario = base.model_copy(update={
        "name": "calibrated",
        "description": f"{base.name} with parameters calibrated by "
                       f"'{setup.experiment.name}' ({method})",
        "extends": None,
        "parameters": {**base.parameters, **{k: round(float(v), 6) for k, v in params.items()}}})
    header = (
        f"# Calibrated scenario, written by `urban-sim calibrate {setup.path}`\n"
        f"# on {dt.date.today().isoformat()}: method {method}, start year "
        f"{setup.experiment.start_year}, scale {setup.experiment.scale}, {replicates} replicate(s) "
        f"per evaluation (common random numbers), loss {loss:.4g}.\n"
        f"# It is {base.name} resolved, with the calibrated values under `parameters:`.\n"
        "# Other scenarios can use it with `extends: calibrated`.\n")
    return header + dump_scenario(scenario)


def run_calibration(setup: Setup, out_dir: str | Path | None = None, *,
                    progress: bool = False) -> CalibrationResult:
    """Fit the experiment's parameters, run the check, and write the output folder.

    Parameters
    ----------
    setup : Setup
        From :func:`~urban_sim.calibration.objective.load_experiment`.
    out_dir : str or Path, optional
        Default ``results/<experiment name>``.
    progress : bool
        Show progress on stderr.

    Returns
    -------
    CalibrationResult

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

    common = {"replicates": exp.replicates, "workers": exp.workers, "progress": progress}
    if exp.method == "msm":
        o = exp.optimizer
        cal = MSMCalibrator(setup.scenario, setup.bounds, maxiter=o.maxiter, popsize=o.popsize,
                            tol=o.tol, mutation=o.mutation, recombination=o.recombination,
                            polish=o.polish, seed=o.seed, **common)
    else:
        a = exp.abc
        cal = ABCCalibrator(setup.scenario, setup.bounds, population_size=a.population_size,
                            generations=a.generations, quantile=a.quantile,
                            max_evaluations=a.max_evaluations, seed=a.seed, **common)
    cal.fit(fit_rows)
    search_seconds = time.perf_counter() - started

    check = check_run(setup, cal.params_, workers=exp.workers)
    fit = fit_table(obs, check, used_for, exp.start_year, end_year)
    county = check[(check["place"] == "county") & (check["year"] == end_year)]
    last = county.pivot_table(index="replicate", columns="indicator", values="value")
    chk_scale = exp.check.scale or exp.scale

    def loss_of(role: str) -> float:
        rows = fit[fit["used_for"] == role]
        return float((rows["z"] ** 2).sum())

    summary = {
        "experiment": exp.name, "method": exp.method, "loss": cal.loss_,
        "n_evaluations": cal.n_evaluations_, "replicates": exp.replicates, "scale": exp.scale,
        "check_replicates": exp.check.replicates, "check_scale": chk_scale,
        "check_loss_fit": loss_of("fit"), "check_loss_holdout": loss_of("holdout"),
        "n_fit": int((fit["used_for"] == "fit").sum()),
        "n_holdout": int((fit["used_for"] == "holdout").sum()),
        "end_year": end_year,
        "residents_mean": float(last["resident_population"].mean()),
        "residents_sd": float(last["resident_population"].std(ddof=1))
        if len(last) > 1 else 0.0,
        "urbanization_mean": float(last["urbanization_rate"].mean()),
        "urbanization_sd": float(last["urbanization_rate"].std(ddof=1))
        if len(last) > 1 else 0.0,
        "search_seconds": search_seconds,
    }

    names = list(setup.bounds)
    params = pd.DataFrame({
        "name": names, "value": [cal.params_[n] for n in names],
        "low": [setup.bounds[n][0] for n in names], "high": [setup.bounds[n][1] for n in names],
        "fixed": [n in cal.fixed_ for n in names],
        "on_bound": [cal.on_bound_[n] for n in names]})
    text = _calibrated_yaml(setup, cal.params_, cal.loss_, exp.replicates, exp.method)
    write_text(out / "calibrated.yaml", text)
    if setup.calibrated_path is not None:
        write_text(setup.calibrated_path, text)
        summary["calibrated_scenario"] = str(setup.calibrated_path)
    write_table(out / "fit.csv", fit)
    write_table(out / "params.csv", params)
    write_table(out / "history.csv", cal.history_)
    miss = missing_years(obs)
    write_table(out / "missing_years.csv", miss)
    figures: list[Path] = []
    for (ind, place), _ in fit[fit["used_for"] != "not_simulated"].groupby(
            ["indicator", "place"], sort=False):
        figures.append(_save(plot_fit(fit, check, ind, place),
                             out / "figures" / f"fit_{_slug(ind)}_{_slug(place)}.png"))
    if isinstance(cal, ABCCalibrator):
        write_table(out / "posterior.csv", cal.posterior_)
        figures.append(_save(plot_pairs(cal.posterior_, cal.names_), out / "figures" / "pairs.png"))
    summary["wall_seconds"] = time.perf_counter() - started
    write_text(out / "report.html", report_html(summary, fit, params, miss, figures))
    return CalibrationResult(cal, fit, check, summary, out)


def _html_table(frame: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for v in row:
            if isinstance(v, float | np.floating):
                v = "" if np.isnan(v) else floatfmt.format(v)
            cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def report_html(summary: dict, fit: pd.DataFrame, params: pd.DataFrame,
                missing: pd.DataFrame, figures: list[Path]) -> str:
    """A self-contained HTML report (figures embedded as base64 PNG)."""
    s = summary
    flagged = params.loc[params["on_bound"], "name"].tolist()
    warn = (f"<p class='warn'>On a bound: {', '.join(flagged)}. The bound, not the data, "
            "decided these values; widen the bounds or question the model.</p>") if flagged else ""
    imgs = "".join(
        f"<figure><img src='data:image/png;base64,"
        f"{base64.b64encode(p.read_bytes()).decode()}'><figcaption>{html.escape(p.name)}"
        "</figcaption></figure>" for p in figures)
    miss = missing[missing["missing_years"] != ""]
    miss_html = _html_table(miss) if len(miss) else "<p>No missing years.</p>"
    cols = ["indicator", "year", "place", "observed", "sim_mean", "sim_sd", "error", "z",
            "used_for"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Calibration: {html.escape(s['experiment'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}.warn{{color:#b00}}
img{{max-width:100%}}</style></head><body>
<h1>Calibration: {html.escape(s['experiment'])}</h1>
<p>Method: {s['method']} ({'method of simulated moments, differential evolution' if s['method'] == 'msm' else 'ABC-SMC'}),
common random numbers, {s['replicates']} replicate(s) per evaluation at scale {s['scale']};
{s['n_evaluations']} evaluations; loss at the calibrated parameters {s['loss']:.4g};
wall time {s['wall_seconds']:.0f} s.</p>
<h2>Check run</h2>
<p>{s['check_replicates']} replicates at scale {s['check_scale']} with the calibrated parameters,
new seeds. {s['end_year']}: resident population {s['residents_mean']:,.0f} ± {s['residents_sd']:,.0f} (sd),
urbanization rate {s['urbanization_mean']:.2%} ± {s['urbanization_sd']:.2%}.</p>
<p>Loss on fit rows (n = {s['n_fit']}): {s['check_loss_fit']:.4g}.
<b>Holdout loss</b> (n = {s['n_holdout']}, not used in fitting): {s['check_loss_holdout']:.4g}.</p>
<h2>Parameters</h2>{warn}{_html_table(params)}
<h2>Fit</h2>{_html_table(fit[cols])}
<h2>Missing years per place</h2>
<p>Years observed for an indicator somewhere but not for this place. They do not enter the loss;
nothing is interpolated or extrapolated.</p>{miss_html}
<h2>Figures</h2>{imgs}
</body></html>
"""
