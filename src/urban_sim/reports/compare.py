"""Scenario comparison report: ``report.html`` (self-contained, figures embedded) and ``report.md``.

Contents: the scenarios and what differs between them; fan charts (median and 90 % band) of the
headline indicators by place; a target scorecard (mean, p05–p95, probability of meeting the
target, mean shortfall); paired differences against the baseline with 95 % intervals;
investment and jobs by task area. Labels in English or Chinese (``lang='zh'`` needs a CJK font;
without one a single warning names the font to install and English labels are used).
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from urban_sim.analysis.compare import (
    HEADLINE, area_totals, fan, paired_differences, scenario_differences, scorecard,
)
from urban_sim.config.schema import TASK_AREAS
from urban_sim.files import atomic_write, write_table, write_text
from urban_sim.reports.figures import LABELS, _language
from urban_sim.reports.html import md_cell, md_text
from urban_sim.reports.summary import _fmt, _table

TEXT = {
    "en": {"title": "Scenario comparison", "scenarios": "Scenarios", "differs": "What differs",
           "fans": "Headline indicators (median and 90 % band across replicates)",
           "score": "Target scorecard", "paired": "Paired differences against the baseline",
           "areas": "Investment and jobs by task area", "inv": "Cumulative investment (million yuan)",
           "jobs": "Jobs attributable to the task area (last year)", "runs": "Runs",
           "diff": "Difference to baseline (95 % interval)", "p_met": "Probability of meeting the target",
           "resident_population": "Residents", "urbanization_rate": "Urbanization rate",
           "jobs_nonfarm": "Non-farm jobs", "investment_total": "Investment (million yuan)",
           "county": "county", "county_seat": "county seat", "towns": "other towns",
           "villages": "villages", "outside": "outside", "na_note": "no replicate has a value (place empty)"},
    "zh": {"title": "情景比较", "scenarios": "情景", "differs": "情景差异",
           "fans": "主要指标（各重复运行的中位数与 90% 区间）", "score": "目标达成评分",
           "paired": "相对基准情景的配对差异", "areas": "各任务领域的投资与就业",
           "inv": "累计投资（百万元）", "jobs": "任务领域带动就业（末年）", "runs": "运行",
           "diff": "与基准情景之差（95% 区间）", "p_met": "达成目标的概率",
           "resident_population": "常住人口", "urbanization_rate": "城镇化率",
           "jobs_nonfarm": "非农就业", "investment_total": "投资（百万元）", "county": "全县",
           "county_seat": "县城", "towns": "其他镇区", "villages": "乡村", "outside": "县外",
           "na_note": "所有重复运行均无数值（该地无人）"},
}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _label(t: dict, indicator: str, place: str) -> str:
    return f"{t.get(indicator, indicator)} ({t.get(place, place)})"


def fan_figure(ts: pd.DataFrame, lang: str = "en") -> Figure:
    """Grid of fan charts, one panel per headline (indicator, place), one band per scenario."""
    labels, rc = _language(lang)
    t = TEXT["zh" if labels is LABELS["zh"] else "en"]
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(11, 10), layout="constrained")
        axes = fig.subplots(4, 2).ravel()
        for ax, (ind, place) in zip(axes, HEADLINE, strict=True):
            f = fan(ts, ind, place)
            for k, (sc, sub) in enumerate(f.groupby("scenario", sort=False)):
                color = f"C{k}"
                ax.fill_between(sub["year"], sub["p05"], sub["p95"], color=color, alpha=0.2, lw=0)
                ax.plot(sub["year"], sub["median"], color=color, label=sc)
            ax.set_title(_label(t, ind, place), fontsize=10)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
    return fig


def paired_figure(diffs: pd.DataFrame, lang: str = "en") -> Figure:
    """Forest plots of paired differences with intervals: one panel per indicator, one row per
    (place, year), one marker per scenario."""
    labels, rc = _language(lang)
    t = TEXT["zh" if labels is LABELS["zh"] else "en"]
    with matplotlib.rc_context(rc):
        inds = list(diffs["indicator"].unique())
        scen = list(diffs["scenario"].unique())
        ncol = min(len(inds), 4) or 1
        nrow = math.ceil(len(inds) / ncol) or 1
        fig = Figure(figsize=(3.2 * ncol, 2.4 * nrow + 0.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
        for ax, ind in zip(axes, inds, strict=False):
            sub = diffs[diffs["indicator"] == ind]
            rows = list(dict.fromkeys(zip(sub["place"], sub["year"], strict=True)))
            for k, sc in enumerate(scen):
                s = sub[sub["scenario"] == sc]
                y = np.array([rows.index((r.place, r.year)) for r in s.itertuples()]) + 0.15 * k
                err = np.vstack([s["mean_diff"] - s["ci_low"], s["ci_high"] - s["mean_diff"]])
                ax.errorbar(s["mean_diff"], y, xerr=np.nan_to_num(err), fmt="o", color=f"C{k + 1}",
                            label=sc, ms=4, capsize=3)
            ax.axvline(0, color="k", lw=0.8)
            ax.set_yticks(range(len(rows)), [f"{t.get(p, p)} {y}" for p, y in rows], fontsize=8)
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.set_title(t.get(ind, ind), fontsize=9)
        for ax in axes[len(inds):]:
            ax.set_visible(False)
        axes[0].legend(fontsize=8)
        fig.suptitle(t["diff"])
    return fig


def area_figure(areas: pd.DataFrame, lang: str = "en") -> Figure:
    """Grouped bars of cumulative investment and last-year jobs by task area per scenario."""
    labels, rc = _language(lang)
    t = TEXT["zh" if labels is LABELS["zh"] else "en"]
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        axes = fig.subplots(1, 2)
        scen = list(areas["scenario"].unique())
        x = np.arange(len(TASK_AREAS))
        w = 0.8 / max(len(scen), 1)
        for ax, col, title in ((axes[0], "investment_million_yuan", t["inv"]), (axes[1], "jobs", t["jobs"])):
            for k, sc in enumerate(scen):
                s = areas[areas["scenario"] == sc].set_index("task_area").reindex(TASK_AREAS)
                ax.bar(x + k * w, s[col].to_numpy(float), w, label=sc, color=f"C{k}")
            ax.set_xticks(x + w * (len(scen) - 1) / 2, [labels.get(a, a) for a in TASK_AREAS],
                          rotation=35, ha="right", fontsize=8)
            ax.set_title(title, fontsize=10)
        axes[0].legend(fontsize=8)
    return fig


def score_figure(card: pd.DataFrame, lang: str = "en") -> Figure:
    """Heat map of the probability of meeting each target, scenarios × (target, year)."""
    labels, rc = _language(lang)
    t = TEXT["zh" if labels is LABELS["zh"] else "en"]
    with matplotlib.rc_context(rc):
        piv = card.set_index(["indicator", "year", "scenario"])["p_met"].unstack("scenario")
        piv = piv.reindex(index=pd.MultiIndex.from_frame(card[["indicator", "year"]].drop_duplicates()),
                          columns=card["scenario"].unique())
        fig = Figure(figsize=(2 + 1.2 * piv.shape[1], 0.3 * len(piv) + 1.5), layout="constrained")
        ax = fig.subplots()
        im = ax.imshow(piv.to_numpy(float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_yticks(range(len(piv)), [f"{i} ({y})" for i, y in piv.index], fontsize=8)
        ax.set_xticks(range(piv.shape[1]), piv.columns, rotation=30, ha="right")
        fig.colorbar(im, ax=ax, label=t["p_met"])
    return fig


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _md_frame(frame: pd.DataFrame) -> list[str]:
    return _table([str(c) for c in frame.columns],  # _table escapes every cell
                  [[_fmt(v) for v in row] for row in frame.itertuples(index=False)])


def write_compare_report(out: str | Path, ts: pd.DataFrame, targets, resolved: dict[str, dict],
                         baseline: str, manifest: dict, *, lang: str = "en") -> list[Path]:
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
        Run metadata shown in the report.

    Raises
    ------
    ValueError
        If ``baseline`` is not among the scenarios.
    """
    out = Path(out)
    labels, _ = _language(lang)
    t = TEXT["zh" if labels is LABELS["zh"] else "en"]
    end = int(ts["year"].max())
    card = scorecard(ts, targets)
    items = [(i, p, end) for i, p in HEADLINE]
    items += [(tg.indicator, "county", tg.year) for tg in targets
              if tg.indicator in ("seat_water_coverage", "water_leakage_rate", "road_network_density")]
    diffs = paired_differences(ts, baseline, items)
    areas = area_totals(ts, TASK_AREAS)
    differs = scenario_differences(resolved)
    figs = {"compare_fans": fan_figure(ts, lang), "compare_scorecard": score_figure(card, lang),
            "compare_paired": paired_figure(diffs, lang), "compare_areas": area_figure(areas, lang)}
    pngs = {k: _png(f) for k, f in figs.items()}
    paths = []
    for name, data in pngs.items():
        paths.append(atomic_write(out / "figures" / f"{name}.png", lambda p, d=data: p.write_bytes(d)))
    paths.append(write_table(out / "scorecard.csv", card))
    paths.append(write_table(out / "paired_differences.csv", diffs))
    empty = card[card["n"] == 0]
    notes = [f"{r.indicator} {r.year} ({r.scenario}): {t['na_note']}" for r in empty.itertuples()]

    card_show = card[["scenario", "indicator", "year", "operator", "target", "mean", "p05", "p95",
                      "p_met", "mean_shortfall"]]
    diff_show = diffs.assign(place=diffs["place"].map(lambda p: t.get(p, p)))
    meta = [f"{k}: {v}" for k, v in manifest.items() if not isinstance(v, (list, dict))]
    md = [f"# {t['title']}: {md_text(', '.join(resolved))}", "", f"## {t['scenarios']}", "",
          *[f"- **{md_cell(n)}**: {md_text(d.get('description', ''))}" for n, d in resolved.items()],
          "",
          f"## {t['differs']}", "", *_md_frame(differs), "",
          f"## {t['fans']}", "", "![](figures/compare_fans.png)", "",
          f"## {t['score']}", "", "![](figures/compare_scorecard.png)", "", *_md_frame(card_show), "",
          *[f"- {md_text(n)}" for n in notes], "",
          f"## {t['paired']} ({baseline})", "", "![](figures/compare_paired.png)", "",
          *_md_frame(diff_show), "", f"## {t['areas']}", "", "![](figures/compare_areas.png)", "",
          *_md_frame(areas), "", f"## {t['runs']}", "", *[f"- {md_text(m)}" for m in meta], ""]
    paths.append(write_text(out / "report.md", "\n".join(md)))

    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(index=False, na_rep="n/a", float_format=lambda v: _fmt(v), border=0,
                             classes="t")

    body = [f"<h1>{html.escape(t['title'])}</h1>", f"<h2>{t['scenarios']}</h2><ul>",
            *[f"<li><b>{html.escape(n)}</b>: {html.escape(str(d.get('description', '')))}</li>"
              for n, d in resolved.items()], "</ul>",
            f"<h2>{t['differs']}</h2>", table(differs),
            f"<h2>{t['fans']}</h2>", _img(pngs["compare_fans"], t["fans"]),
            f"<h2>{t['score']}</h2>", _img(pngs["compare_scorecard"], t["score"]), table(card_show),
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>",
            f"<h2>{t['paired']} ({html.escape(baseline)})</h2>", _img(pngs["compare_paired"], t["paired"]),
            table(diff_show), f"<h2>{t['areas']}</h2>", _img(pngs["compare_areas"], t["areas"]),
            table(areas), f"<h2>{t['runs']}</h2><ul>",
            *[f"<li>{html.escape(m)}</li>" for m in meta], "</ul>"]
    page = ("<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>"
            "body{{font-family:'Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif;max-width:1100px;"
            "margin:2em auto;color:#222}} table.t{{border-collapse:collapse;font-size:12px}}"
            " table.t td,table.t th{{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}}"
            " img{{max-width:100%}}</style></head><body>{}</body></html>").format(
        "zh" if t is TEXT["zh"] else "en", html.escape(t["title"]), "\n".join(body))
    paths.append(write_text(out / "report.html", page))
    return paths


__all__ = ["area_figure", "fan_figure", "paired_figure", "score_figure", "write_compare_report"]
