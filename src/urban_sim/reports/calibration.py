"""Report of a calibration output folder: fit figures, pair plot, HTML and Markdown.

Everything is read back from the folder that :func:`urban_sim.calibration.workflow.
run_calibration` wrote (``summary.json``, ``fit.csv``, ``params.csv``, ``missing_years.csv``,
``check.parquet``, ``posterior.csv``), so ``urban-sim report DIR`` rebuilds it at any time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from urban_sim.calibration.base import bound_note
from urban_sim.errors import ExperimentError
from urban_sim.reports.html import Document

STYLE = {"fit": ("o", "#d62728"), "holdout": ("s", "#ff7f0e"),
         "initial": ("D", "#555555"), "not_simulated": ("x", "#999999")}


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
    for role, frame in obs.groupby("used_for"):
        marker, color = STYLE[role]
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
                ax.scatter(posterior[b], posterior[a], s=8 + 400 * w, alpha=0.6, color="#08519c")
            if i == k - 1:
                ax.set_xlabel(b)
            if j == 0:
                ax.set_ylabel(a)
    return fig


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", str(text)).strip("_") or "x"


def write_report(folder: str | Path, *, lang: str = "en") -> Path:
    """Write ``report.html``, ``report.md`` and ``figures/`` of a calibration folder.

    Raises
    ------
    ExperimentError
        If the folder lacks the calibration's result files.
    """
    folder = Path(folder)
    need = ("summary.json", "fit.csv", "params.csv", "missing_years.csv", "check.parquet")
    missing = [n for n in need if not (folder / n).is_file()]
    if missing:
        raise ExperimentError(f"{folder}: not a finished calibration folder (missing "
                              f"{', '.join(missing)})")
    s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    fit = pd.read_csv(folder / "fit.csv")
    params = pd.read_csv(folder / "params.csv")
    miss = pd.read_csv(folder / "missing_years.csv", keep_default_na=False)
    check = pd.read_parquet(folder / "check.parquet")
    method = ("method of simulated moments, differential evolution" if s["method"] == "msm"
              else "ABC-SMC")
    doc = Document(f"Calibration: {s['experiment']}", lang=lang)
    doc.paragraph(
        f"Method: {s['method']} ({method}), common random numbers, {s['replicates']} replicate(s)"
        f" per evaluation at scale {s['scale']}; {s['n_evaluations']} evaluations "
        f"({s.get('n_resumed_runs', 0)} runs resumed from an earlier call); loss at the "
        f"calibrated parameters {s['loss']:.4g}; wall time {s['wall_seconds']:.0f} s.",
        css="summary")
    doc.heading("Check run")
    doc.paragraph(
        f"{s['check_replicates']} replicates at scale {s['check_scale']} with the calibrated "
        f"parameters, new seeds. {s['end_year']}: resident population {s['residents_mean']:,.0f}"
        f" ± {s['residents_sd']:,.0f} (sd), urbanization rate {s['urbanization_mean']:.2%} ± "
        f"{s['urbanization_sd']:.2%}.")
    doc.paragraph(f"Loss on fit rows (n = {s['n_fit']}): {s['check_loss_fit']:.4g}. Holdout loss "
                  f"(n = {s['n_holdout']}, not used in fitting): {s['check_loss_holdout']:.4g}.")
    doc.heading("Parameters")
    notes = [(r.name, r.value, bound_note(r.value, r.low, r.high)) for r in params.itertuples()]
    flagged = [f"{name} = {value:.4g} is {note}" for name, value, note in notes if note]
    if flagged:
        doc.paragraph(f"{'; '.join(flagged)}. The bound, not the data, decided these values; "
                      "widen the bounds or question the model.", css="note")
    doc.table(params)
    doc.heading("Fit")
    doc.table(fit[["indicator", "year", "place", "observed", "sim_mean", "sim_sd", "error", "z",
                   "used_for"]])
    doc.heading("Missing years per place")
    doc.paragraph("Years observed for an indicator somewhere but not for this place. They do not "
                  "enter the loss; nothing is interpolated or extrapolated.", css="note")
    miss = miss[miss["missing_years"].astype(str) != ""]
    if len(miss):
        doc.table(miss)
    else:
        doc.paragraph("No missing years.")
    doc.heading("Figures")
    for (ind, place), _ in fit[fit["used_for"] != "not_simulated"].groupby(
            ["indicator", "place"], sort=False):
        doc.figure(f"fit_{_slug(ind)}_{_slug(place)}", plot_fit(fit, check, ind, place))
    post = folder / "posterior.csv"
    if post.is_file():
        frame = pd.read_csv(post)
        names = [c for c in frame.columns
                 if c not in ("sample", "weight", "distance", "year", "source", "status")]
        doc.figure("pairs", plot_pairs(frame, names), "ABC posterior sample")
    return doc.write(folder)[0]
