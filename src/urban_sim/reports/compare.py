"""Scenario comparison report: ``report.html`` (self-contained, figures embedded) and ``report.md``.

Contents, in the report's language (``lang='en'`` or ``'zh'``): a summary (what was run and the
main findings generated from the numbers), the target × scenario scorecard in the plan's wording,
what is assumed, the scenarios and what differs between them, fan charts (median and 90 % band)
of the headline indicators by place, paired differences against the reference scenario with 95 %
intervals, investment and jobs by task area, and run details. Figures need a CJK font for Chinese;
without one a single warning names the font to install and figure labels stay English.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from urban_sim.analysis.compare import (
    HEADLINE, area_totals, fan, paired_differences, scenario_differences, scorecard,
)
from urban_sim.config.schema import TASK_AREAS
from urban_sim.files import write_table
from urban_sim.model.outputs import label
from urban_sim.reports.figures import LABELS, _language
from urban_sim.reports.html import Document
from urban_sim.reports.labels import fmt_value, text, with_unit
from urban_sim.reports.sections import (
    assumption_note, data_status_counts, findings, run_description, scorecard_table,
)


def _code(labels: dict) -> str:
    """Language actually used by the figures (``zh`` falls back to ``en`` without a CJK font)."""
    return "zh" if labels is LABELS["zh"] else "en"


def _label(indicator: str, place: str, lang: str) -> str:
    return f"{label(indicator, lang)} ({label(place, lang)})" if lang == "en" else \
        f"{label(indicator, lang)}（{label(place, lang)}）"


def fan_figure(ts: pd.DataFrame, lang: str = "en") -> Figure:
    """Grid of fan charts, one panel per headline (indicator, place), one band per scenario;
    the legend sits below the panels, never over data."""
    labels, rc = _language(lang)
    code = _code(labels)
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(11, 10.5), layout="constrained")
        axes = fig.subplots(4, 2).ravel()
        for ax, (ind, place) in zip(axes, HEADLINE, strict=True):
            f = fan(ts, ind, place)
            for k, (sc, sub) in enumerate(f.groupby("scenario", sort=False)):
                color = f"C{k}"
                ax.fill_between(sub["year"], sub["p05"], sub["p95"], color=color, alpha=0.2, lw=0)
                ax.plot(sub["year"], sub["median"], color=color, label=sc)
            ax.set_title(_label(ind, place, code), fontsize=10)
            ax.grid(alpha=0.3)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 5), fontsize=9)
    return fig


def paired_figure(diffs: pd.DataFrame, reference: str, lang: str = "en") -> Figure:
    """Forest plots of paired differences against ``reference``: one panel per (indicator,
    place, year), one row per other scenario (named on the y axis, so no legend is needed).

    Panels whose difference is zero in every pair (an output the scenarios cannot change) are
    left out; :func:`zero_items` lists them for the report's note.
    """
    labels, rc = _language(lang)
    code = _code(labels)
    diffs = diffs[~diffs.index.isin(_zero_rows(diffs))]
    with matplotlib.rc_context(rc):
        items = list(dict.fromkeys(zip(diffs["indicator"], diffs["place"], diffs["year"], strict=True)))
        scen = list(diffs["scenario"].unique())
        ncol = min(len(items), 3) or 1
        nrow = math.ceil(len(items) / ncol) or 1
        fig = Figure(figsize=(3.9 * ncol + 1.2, (0.45 * len(scen) + 1.0) * nrow + 0.5),
                     layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrow, ncol, sharey=True)).ravel()
        for ax, (ind, place, year) in zip(axes, items, strict=False):
            sub = diffs[(diffs["indicator"] == ind) & (diffs["place"] == place) & (diffs["year"] == year)]
            y = np.array([scen.index(s) for s in sub["scenario"]])
            err = np.vstack([sub["mean_diff"] - sub["ci_low"], sub["ci_high"] - sub["mean_diff"]])
            ax.errorbar(sub["mean_diff"], y, xerr=np.nan_to_num(err), fmt="o", color="C1", ms=4,
                        capsize=3)
            ax.axvline(0, color="k", lw=0.8)
            ax.set_yticks(range(len(scen)), scen, fontsize=8)
            ax.set_ylim(len(scen) - 0.5, -0.5)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.tick_params(axis="x", labelsize=7)
            ax.set_title(f"{_label(ind, place, code)} {year}", fontsize=8.5, wrap=True)
            ax.grid(axis="x", alpha=0.3)
        for ax in axes[len(items):]:
            ax.set_visible(False)
        fig.suptitle(text("paired_title", code).format(ref=reference), fontsize=11)
    return fig


def _zero_rows(diffs: pd.DataFrame) -> pd.Index:
    """Rows of (indicator, place, year) items whose every difference and interval is 0."""
    key = ["indicator", "place", "year"]
    zero = diffs[["mean_diff", "ci_low", "ci_high"]].abs().fillna(0).max(axis=1) < 1e-12
    allzero = zero.groupby([diffs[k] for k in key]).transform("all")
    return diffs.index[allzero]


def zero_items(diffs: pd.DataFrame, lang: str = "en") -> list[str]:
    """Labels of the paired-difference items that are zero in every scenario and pair."""
    rows = diffs.loc[_zero_rows(diffs)].drop_duplicates(["indicator", "place", "year"])
    return [f"{_label(r.indicator, r.place, lang)} {r.year}" for r in rows.itertuples()]


def area_figure(areas: pd.DataFrame, lang: str = "en") -> Figure:
    """Grouped bars of cumulative investment and last-year jobs by task area per scenario."""
    labels, rc = _language(lang)
    code = _code(labels)
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(11, 5), layout="constrained")
        axes = fig.subplots(1, 2)
        scen = list(areas["scenario"].unique())
        x = np.arange(len(TASK_AREAS))
        w = 0.8 / max(len(scen), 1)
        for ax, col, title in ((axes[0], "investment_million_yuan", text("inv", code)),
                               (axes[1], "jobs", text("jobs", code))):
            for k, sc in enumerate(scen):
                s = areas[areas["scenario"] == sc].set_index("task_area").reindex(TASK_AREAS)
                ax.bar(x + k * w, s[col].to_numpy(float), w, label=sc, color=f"C{k}")
            ax.set_xticks(x + w * (len(scen) - 1) / 2, [label(a, code) for a in TASK_AREAS],
                          rotation=35, ha="right", fontsize=8)
            ax.set_title(title, fontsize=10)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 5), fontsize=9)
    return fig


def score_figure(card: pd.DataFrame, lang: str = "en") -> Figure:
    """Heat map of the probability of meeting each target, scenarios × (target, year)."""
    labels, rc = _language(lang)
    code = _code(labels)
    with matplotlib.rc_context(rc):
        piv = card.set_index(["indicator", "year", "scenario"])["p_met"].unstack("scenario")
        piv = piv.reindex(index=pd.MultiIndex.from_frame(card[["indicator", "year"]].drop_duplicates()),
                          columns=card["scenario"].unique())
        fig = Figure(figsize=(4.5 + 1.2 * piv.shape[1], 0.3 * len(piv) + 1.8), layout="constrained")
        ax = fig.subplots()
        im = ax.imshow(piv.to_numpy(float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_yticks(range(len(piv)), [f"{label(i, code)} ({y})" for i, y in piv.index], fontsize=8)
        ax.set_xticks(range(piv.shape[1]), piv.columns, rotation=30, ha="right")
        fig.colorbar(im, ax=ax, label=text("p_met", code))
    return fig


def write_compare_report(out: str | Path, ts: pd.DataFrame, targets, resolved: dict[str, dict],
                         baseline: str, manifest: dict, *, lang: str = "en",
                         plan: pd.DataFrame | None = None, data_dir=None) -> list[Path]:
    """Write ``report.html``, ``report.md``, ``scorecard.csv``, ``paired_differences.csv`` and
    ``figures/compare_*.png`` into ``out`` (each atomically).

    Parameters
    ----------
    ts : pandas.DataFrame
        Long timeseries of every scenario and replicate.
    targets : list of Target
    resolved : dict
        Scenario name → resolved scenario dict (for "what differs").
    baseline : str
        Reference scenario for paired differences.
    manifest : dict
        Run metadata (``scale``, ``start_year``, ``end_year``, ``n_replicates`` shown in the summary).
    lang : {"en", "zh"}
        Language of everything a reader sees.
    plan : pandas.DataFrame, optional
        ``plan_targets.csv`` rows (the plan's wording and flags of each target).
    data_dir : path, optional
        County data folder (for the count of assumed inputs); default the built-in data.

    Raises
    ------
    ValueError
        If ``baseline`` is not among the scenarios or ``lang`` is not en or zh.
    """
    out = Path(out)
    t = lambda k: text(k, lang)  # noqa: E731
    end = int(ts["year"].max())
    card = scorecard(ts, targets)
    items = [(i, p, end) for i, p in HEADLINE]
    items += [(tg.indicator, "county", tg.year) for tg in targets
              if tg.indicator in ("seat_water_coverage", "water_leakage_rate", "road_network_density")]
    diffs = paired_differences(ts, baseline, items)
    areas = area_totals(ts, TASK_AREAS)
    differs = scenario_differences(resolved)
    paths = [write_table(out / "scorecard.csv", card), write_table(out / "paired_differences.csv", diffs)]
    names = list(resolved)

    doc = Document(f"{t('compare_title')}：{'、'.join(names)}" if lang == "zh" else
                   f"{t('compare_title')}: {', '.join(names)}", lang=lang)
    doc.heading(t("summary")).paragraph(run_description(manifest, names, baseline, lang), css="summary")
    doc.paragraph(("" if lang == "zh" else " ").join(findings(ts, card, baseline, lang, draws=manifest.get("n_parameter_draws") or 0)), css="summary")
    doc.heading(t("scorecard")).paragraph(t("scorecard_note"), css="note")
    doc.table(scorecard_table(card, plan, lang))
    doc.bullets([f"{label(r.indicator, lang)} {r.year} ({r.scenario}): {t('na_note')}"
                 for r in card[card["n"] == 0].itertuples()], css="note")
    doc.heading(t("assumptions")).bullets(assumption_note(data_status_counts(data_dir), manifest, lang),
                                          css="note")
    doc.heading(t("scenarios")).bullets([f"{n}: {d.get('description', '')}" for n, d in resolved.items()])
    if len(differs):
        doc.heading(t("differs"), 3).table(differs.rename(columns={"setting": t("setting")}))
    doc.heading(t("fans")).figure("compare_fans", fan_figure(ts, lang), t("fans"))
    doc.figure("compare_scorecard", score_figure(card, lang), t("p_met"))
    doc.heading(f"{t('paired')}（{baseline}）" if lang == "zh" else f"{t('paired')} ({baseline})")
    if len(diffs):
        doc.figure("compare_paired", paired_figure(diffs, baseline, lang), t("paired"))
        dropped = zero_items(diffs, lang)
        if dropped:
            doc.paragraph(t("dropped_zero").format(items="; ".join(dropped)), css="note")
        doc.table(pd.DataFrame({
            t("indicator"): [with_unit(i, lang) for i in diffs["indicator"]],
            t("place"): [label(p, lang) for p in diffs["place"]], t("year"): diffs["year"].astype(int),
            t("scenario"): diffs["scenario"],
            t("diff"): [fmt_value(i, v, lang, signed=True) for i, v in zip(diffs["indicator"], diffs["mean_diff"], strict=True)],
            t("interval"): [f"{fmt_value(i, lo, lang, signed=True)} … {fmt_value(i, hi, lang, signed=True)}"
                            for i, lo, hi in zip(diffs["indicator"], diffs["ci_low"], diffs["ci_high"], strict=True)],
            t("n"): diffs["n"].astype(int)}))
    doc.heading(t("areas")).figure("compare_areas", area_figure(areas, lang), t("areas"))
    doc.table(pd.DataFrame({t("scenario"): areas["scenario"],
                            t("task_area"): [label(a, lang) for a in areas["task_area"]],
                            t("inv"): areas["investment_million_yuan"], t("jobs"): areas["jobs"]}),
              formats={t("inv"): "{:,.0f}", t("jobs"): "{:,.0f}"})
    meta = [f"{k}: {v}" for k, v in manifest.items() if not isinstance(v, (list, dict))]
    doc.heading(t("runs")).bullets(meta, css="note")
    return doc.write(out) + paths


__all__ = ["area_figure", "fan_figure", "paired_figure", "score_figure", "write_compare_report",
           "zero_items"]
