"""Figures for one simulated scenario (population, urbanization, jobs, targets).

Every ``plot_*`` function takes the long-format timeseries
(``scenario, replicate, year, place, indicator, value``) or the targets table,
draws on ``ax`` (a new pyplot figure when ``ax`` is None) and returns the Axes.
County-level indicators are read at ``place == "county"``; with several
replicates the median (and p05-p95 band) across replicates is shown.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # never switch a backend already in use
    matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import PercentFormatter

from urban_sim.config.schema import TASK_AREAS
from urban_sim.model.outputs import OUTPUTS, jobs_created_in, label

MET_COLOR, UNMET_COLOR, NA_COLOR = "#2a9d8f", "#e76f51", "#bbbbbb"
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Droid Sans Fallback", "AR PL UMing CN",
             "Noto Sans CJK JP", "Noto Sans CJK TC")  # matplotlib may list a .ttc by its 1st face

LABELS = {
    "en": {"year": "Year", "county_seat": "County seat", "towns": "Other towns",
           "villages": "Villages", "outside": "Outside the county",
           "pop": "Residents (thousands)", "pop_title": "Resident population by place",
           "urb": "Urbanization rate", "band": "p05-p95 across replicates", "median": "Median",
           "jobs": "Jobs (construction under way + operating)", "jobs_title": "Jobs attributable to investment, by task area",
           "ratio": "Value relative to target (>= 1: on target side)",
           "att_title": "Plan target attainment", "target": "Target", "met": "Met",
           "unmet": "Not met", "na": "No value", "no_data": "No data",
           "industry": "Industry", "infrastructure": "Infrastructure", "ecology": "Ecology",
           "public_services": "Public services", "living_environment": "Living environment",
           "heritage": "Heritage", "governance": "Governance", "institutions": "Institutions"},
    "zh": {"year": "年份", "county_seat": "县城", "towns": "其他镇区", "villages": "乡村",
           "outside": "县外", "pop": "常住人口（千人）", "pop_title": "分区域常住人口",
           "urb": "城镇化率", "band": "各重复运行 p05-p95", "median": "中位数",
           "jobs": "就业岗位（在建 + 运营）", "jobs_title": "各任务领域投资带动的就业",
           "ratio": "相对目标值（≥1 为目标一侧）", "att_title": "规划目标达成情况",
           "target": "目标", "met": "达成", "unmet": "未达成", "na": "无数值",
           "no_data": "无数据", "industry": "产业发展", "infrastructure": "基础设施",
           "ecology": "生态保护", "public_services": "公共服务", "living_environment": "人居环境",
           "heritage": "文化传承", "governance": "社会治理", "institutions": "体制机制"},
}

_FONT_WARNED = False
_RESCANNED = False
_CJK_FILE_HINTS = ("cjk", "wqy", "sourcehan", "droidsansfallback", "simhei", "uming", "notosanssc")


def _cjk_font() -> str | None:
    """Name of the first installed CJK font from `CJK_FONTS`, or None.

    matplotlib caches its font list; a font installed after the cache was built is not in it.
    When none is found, the system font folders are scanned once more and CJK font files are
    added (``fontManager.addfont``), so a font works right after ``apt-get install
    fonts-noto-cjk`` without deleting matplotlib's cache by hand.
    """
    global _RESCANNED
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found or _RESCANNED:
        return found
    _RESCANNED = True
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known and any(k in Path(path).name.lower() for k in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found:  # keep the discovery for the next process
        try:
            font_manager.json_dump(font_manager.fontManager, Path(matplotlib.get_cachedir())
                                   / f"fontlist-v{font_manager.FontManager.__version__}.json")
        except OSError:
            pass
    return found


def _language(lang: str) -> tuple[dict, dict]:
    """Labels and rcParams for `lang`; Chinese falls back to English without a CJK font."""
    global _FONT_WARNED
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {sorted(LABELS)}, got {lang!r}")
    if lang == "en":
        return LABELS["en"], {}
    font = _cjk_font()
    if font:
        return LABELS["zh"], {"font.family": [font, "sans-serif"], "axes.unicode_minus": False}
    if not _FONT_WARNED:
        _FONT_WARNED = True
        warnings.warn(
            f"No CJK font found for lang='zh' (looked for {', '.join(CJK_FONTS[:3])}, ...); "
            "using English labels. Install one, e.g. Debian package `fonts-noto-cjk` "
            f"(or `fonts-wqy-zenhei`), then delete matplotlib's font cache in "
            f"{matplotlib.get_cachedir()}.", UserWarning, stacklevel=3)
    return LABELS["en"], {}


@contextmanager
def _canvas(ax: Axes | None, lang: str):
    """Yield ``(ax, labels)`` inside the rc context of `lang`, creating a figure if needed."""
    labels, rc = _language(lang)
    with matplotlib.rc_context(rc):
        if ax is None:
            import matplotlib.pyplot as plt
            ax = plt.subplots(figsize=(7, 4), layout="constrained")[1]
        yield ax, labels
        if rc:  # texts of an Axes made outside this context keep their font otherwise
            for text in ax.findobj(Text):
                text.set_fontfamily(rc["font.family"])


def _one_scenario(ts: pd.DataFrame, scenario: str | None) -> pd.DataFrame:
    if scenario is not None:
        return ts[ts["scenario"] == scenario]
    if ts["scenario"].nunique() > 1:
        raise ValueError("ts holds several scenarios; pass scenario=")
    return ts


def _by_year(ts: pd.DataFrame, indicator: str, place: str = "county", q: float = 0.5) -> pd.Series:
    """Quantile `q` across replicates of one indicator at one place, indexed by year."""
    rows = ts[(ts["indicator"] == indicator) & (ts["place"] == place)]
    return rows.groupby("year")["value"].quantile(q)


def _no_data(ax: Axes, labels: dict) -> Axes:
    ax.text(0.5, 0.5, labels["no_data"], ha="center", va="center", transform=ax.transAxes)
    return ax


def plot_population_by_place(ts: pd.DataFrame, *, ax: Axes | None = None, lang: str = "en",
                             scenario: str | None = None) -> Axes:
    """Stacked area of resident population in county seat, towns and villages.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long-format timeseries; uses indicator ``resident_population`` at places
        ``county_seat``, ``towns``, ``villages`` and ``outside`` (dashed line).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    lang : {"en", "zh"}
        Label language.
    scenario : str, optional
        Scenario to plot; required when `ts` holds several.

    Returns
    -------
    matplotlib.axes.Axes
    """
    with _canvas(ax, lang) as (ax, lab):
        ts = _one_scenario(ts, scenario)
        rows = ts[ts["indicator"].eq("resident_population")
                  & ts["place"].isin(["county_seat", "towns", "villages", "outside"])]
        if rows.empty:
            return _no_data(ax, lab)
        pop = rows.groupby(["year", "place"])["value"].median().unstack("place") / 1000
        stacked = [p for p in ("county_seat", "towns", "villages") if p in pop]
        ax.stackplot(pop.index, *(pop[p] for p in stacked), labels=[lab[p] for p in stacked],
                     alpha=0.8)
        if "outside" in pop:
            ax.plot(pop.index, pop["outside"], "k--", label=lab["outside"])
        ax.set(xlabel=lab["year"], ylabel=lab["pop"], title=lab["pop_title"])
        ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_urbanization_rate(ts: pd.DataFrame, *, ax: Axes | None = None, lang: str = "en",
                           scenario: str | None = None) -> Axes:
    """Urbanization rate (median, with a p05-p95 band when there are several replicates).

    Parameters
    ----------
    ts : pandas.DataFrame
        Long-format timeseries; uses ``urbanization_rate`` (0-1) at place ``county``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    lang : {"en", "zh"}
        Label language.
    scenario : str, optional
        Scenario to plot; required when `ts` holds several.

    Returns
    -------
    matplotlib.axes.Axes
    """
    with _canvas(ax, lang) as (ax, lab):
        ts = _one_scenario(ts, scenario)
        median = _by_year(ts, "urbanization_rate")
        if median.empty:
            return _no_data(ax, lab)
        several = ts.loc[ts["indicator"] == "urbanization_rate", "replicate"].nunique() > 1
        if several:
            ax.fill_between(median.index, _by_year(ts, "urbanization_rate", q=0.05),
                            _by_year(ts, "urbanization_rate", q=0.95), alpha=0.3,
                            label=lab["band"])
        ax.plot(median.index, median, marker=".", label=lab["median"])
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        ax.set(xlabel=lab["year"], ylabel=lab["urb"], title=lab["urb"])
        if several:  # one replicate: one line, nothing to tell apart
            ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_jobs_by_task_area(ts: pd.DataFrame, *, ax: Axes | None = None, lang: str = "en",
                           scenario: str | None = None) -> Axes:
    """Stacked bars of jobs created per year by plan task area.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long-format timeseries; uses ``jobs_created_<task_area>`` at place ``county``
        (median across replicates).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    lang : {"en", "zh"}
        Label language.
    scenario : str, optional
        Scenario to plot; required when `ts` holds several.

    Returns
    -------
    matplotlib.axes.Axes
    """
    with _canvas(ax, lang) as (ax, lab):
        ts = _one_scenario(ts, scenario)
        names = {jobs_created_in(a): a for a in TASK_AREAS}
        rows = ts[ts["indicator"].isin(list(names)) & ts["place"].eq("county")]
        if rows.empty:
            return _no_data(ax, lab)
        jobs = rows.groupby(["year", "indicator"])["value"].median().unstack("indicator")
        bottom = np.zeros(len(jobs))
        for column in [n for n in names if n in jobs]:
            area = names[column]
            values = jobs[column].to_numpy(dtype=float)
            ax.bar(jobs.index, values, bottom=bottom, label=lab.get(area, area))
            bottom += np.nan_to_num(values)
        ax.set(xlabel=lab["year"], ylabel=lab["jobs"], title=lab["jobs_title"])
        ax.legend(fontsize="x-small", ncols=2)
    return ax


def plot_target_attainment(targets: pd.DataFrame, *, ax: Axes | None = None,
                           lang: str = "en") -> Axes:
    """Horizontal bar per target: value relative to target, coloured met / not met.

    Bar length is ``value / target`` for ``>=`` and ``between`` (lower bound)
    targets and ``target / value`` for ``<=`` targets, so 1 (dotted line) marks
    the target; a ``|`` marks the upper bound of ``between`` targets. Colours
    follow the ``met`` column (`MET_COLOR`, `UNMET_COLOR`, `NA_COLOR` when NaN);
    ratios are clipped to [0, 3].

    Parameters
    ----------
    targets : pandas.DataFrame
        Columns ``indicator, year, operator, target, target_high, value, met``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    lang : {"en", "zh"}
        Label language.

    Returns
    -------
    matplotlib.axes.Axes
    """
    with _canvas(ax, lang) as (ax, lab):
        if targets.empty:
            return _no_data(ax, lab)
        t = targets.reset_index(drop=True)
        target, value = t["target"].astype(float), t["value"].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(t["operator"] == "<=", target / value, value / target)
            high = t["target_high"].astype(float) / target
        colors = [NA_COLOR if pd.isna(m) else MET_COLOR if m else UNMET_COLOR for m in t["met"]]
        y = np.arange(len(t))
        ax.barh(y, np.nan_to_num(np.clip(ratio, 0, 3)), color=colors)
        between = (t["operator"] == "between").to_numpy()
        ax.plot(high[between], y[between], "k|", markersize=14)
        ax.axvline(1, color="k", linestyle=":", label=lab["target"])
        code = "zh" if lab is LABELS["zh"] else "en"
        names = [f"{label(i, code) if i in OUTPUTS else i} {op} ({yr})"
                 for i, op, yr in t[["indicator", "operator", "year"]].values]
        ax.set_yticks(y, names, fontsize="small")
        ax.invert_yaxis()
        ax.set(xlabel=lab["ratio"], title=lab["att_title"])
        ax.legend(handles=[Patch(color=MET_COLOR, label=lab["met"]),
                           Patch(color=UNMET_COLOR, label=lab["unmet"]),
                           Patch(color=NA_COLOR, label=lab["na"])],
                  fontsize="small", loc="lower right")
    return ax


def write_figures(ts: pd.DataFrame, targets: pd.DataFrame, out_dir: str | Path, *,
                  lang: str = "en", scenario: str | None = None) -> list[Path]:
    """Write the four standard figures as PNG (dpi 120) to ``out_dir / "figures"``.

    Figures are built without pyplot, so repeated calls leave no open figures.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long-format timeseries of one scenario (or pass `scenario`).
    targets : pandas.DataFrame
        Target attainment table.
    out_dir : str or pathlib.Path
        Run directory; files go to its ``figures`` subdirectory (created if needed).
    lang : {"en", "zh"}
        Label language; ``"zh"`` without a CJK font warns once and uses English.
    scenario : str, optional
        Scenario to plot; required when `ts` holds several.

    Returns
    -------
    list of pathlib.Path
        ``population_by_place.png``, ``urbanization_rate.png``,
        ``jobs_by_task_area.png``, ``target_attainment.png``.
    """
    ts = _one_scenario(ts, scenario)
    fig_dir = Path(out_dir) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    _, rc = _language(lang)
    paths = []
    for name, plot, data in [("population_by_place", plot_population_by_place, ts),
                             ("urbanization_rate", plot_urbanization_rate, ts),
                             ("jobs_by_task_area", plot_jobs_by_task_area, ts),
                             ("target_attainment", plot_target_attainment, targets)]:
        with matplotlib.rc_context(rc):  # fonts are resolved when saving, too
            fig = Figure(figsize=(7, 4.5), layout="constrained")
            plot(data, ax=fig.add_subplot(), lang=lang)
            paths.append(fig_dir / f"{name}.png")
            fig.savefig(paths[-1], dpi=120)
        fig.clear()
    return paths
