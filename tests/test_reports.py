import warnings

import numpy as np
import pandas as pd
import pytest
from pathlib import Path
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from urban_sim.reports import figures, write_figures, write_summary

YEARS = [2020, 2025, 2030]
NAMES = ["population_by_place", "urbanization_rate", "jobs_by_task_area", "target_attainment"]


@pytest.fixture
def ts():
    rows = []
    for rep, (noise, skew) in enumerate([(-0.001, 0), (0.0, 0), (0.001, 3000)]):  # median: rep 1
        for k, year in enumerate(YEARS):
            def add(indicator, value, place="county"):
                rows.append(("base", rep, year, place, indicator, value))
            add("urbanization_rate", 0.3215 + 0.05 * k + noise)
            add("resident_population", 250_000 - 1000 * k + 100 * noise)
            add("urban_population", 80_000 + 5000 * k)
            add("jobs_total", 90_000.0 if k < 2 else np.nan)
            add("resident_population", 60_000 + 4000 * k, "county_seat")
            add("resident_population", 20_000.0, "towns")
            add("resident_population", 170_000 - 5000 * k, "villages")
            add("resident_population", 40_000 + 1000 * k + skew, "outside")
            add("resident_population", 9_000.0, "碛口镇")
            for area in ["industry", "ecology", "heritage"]:
                add(f"jobs_created_{area}", 100.0 * (k + 1))
    return pd.DataFrame(rows, columns=["scenario", "replicate", "year", "place", "indicator",
                                       "value"])


@pytest.fixture
def targets():
    return pd.DataFrame({
        "indicator": ["urbanization_rate", "resident_population", "jobs_total", "households"],
        "year": [2030, 2030, 2030, 2030],
        "operator": [">=", "<=", "between", ">="],
        "target": [0.40, 240_000.0, 80_000.0, 70_000.0],
        "target_high": [np.nan, np.nan, 100_000.0, np.nan],
        "value": [0.4215, 248_000.0, 90_000.0, np.nan],
        "met": [True, False, True, np.nan],
    })


def test_write_figures_creates_four_pngs(ts, targets, tmp_path):
    import matplotlib.pyplot as plt

    for _ in range(3):  # repeated calls must not leave figures open
        paths = write_figures(ts, targets, tmp_path)
    assert [p.name for p in paths] == [f"{n}.png" for n in NAMES]
    for p in paths:
        assert p.parent == tmp_path / "figures"
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert plt.get_fignums() == []


def test_target_attainment_colours_match_table(targets):
    ax = figures.plot_target_attainment(targets, ax=Figure().add_subplot())
    colours = [p.get_facecolor() for p in ax.patches]
    met = targets["met"].dropna().astype(bool)
    assert len(colours) == len(targets)
    assert colours.count(to_rgba(figures.MET_COLOR)) == met.sum() == 2
    assert colours.count(to_rgba(figures.UNMET_COLOR)) == (~met).sum() == 1
    widths = [p.get_width() for p in ax.patches]
    assert widths[0] == pytest.approx(0.4215 / 0.40)
    assert widths[1] == pytest.approx(240_000 / 248_000)  # "<=": target / value
    assert widths[3] == 0  # no value


def test_population_and_urbanization_use_medians(ts):
    ax = figures.plot_population_by_place(ts, ax=Figure().add_subplot())
    outside = ax.get_lines()[0]
    assert list(outside.get_ydata()) == pytest.approx([40, 41, 42])  # thousands
    ax = figures.plot_urbanization_rate(ts, ax=Figure().add_subplot())
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([0.3215, 0.3715, 0.4215])
    assert len(ax.collections) == 1  # p05-p95 band


def test_write_summary(ts, targets, tmp_path):
    figs = [tmp_path / "figures" / f"{n}.png" for n in NAMES]
    out = write_summary(ts, targets, {"scenario": "base", "seed": 7}, tmp_path / "summary.md",
                        figure_paths=figs)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Scenario summary: base")
    assert "| Urbanization rate | 32.15% | 42.15% |" in text
    assert "| Resident population | 250,000 | 248,000 |" in text
    assert "| County-seat population | 60,000 | 68,000 |" in text
    assert "| Outside population | 40,000 | 42,000 |" in text
    assert "| Jobs total | 90,000 | n/a |" in text
    assert "| urbanization_rate | 2030 | >= | 0.4 | 0.4215 | yes |" in text
    assert "| resident_population | 2030 | <= | 240,000 | 248,000 | no |" in text
    assert "| jobs_total | 2030 | between | 80,000 – 100,000 | 90,000 | yes |" in text
    assert "| households | 2030 | >= | 70,000 | n/a | n/a |" in text
    assert "![urbanization_rate](figures/urbanization_rate.png)" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]  # no temp file left


@pytest.mark.parametrize("force_missing", [False, True])
def test_chinese_labels_or_one_font_warning(ts, targets, tmp_path, monkeypatch, force_missing):
    monkeypatch.setattr(figures, "_FONT_WARNED", False)
    if force_missing:
        monkeypatch.setattr(figures, "_cjk_font", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_figures(ts, targets, tmp_path, lang="zh")
        ax = figures.plot_urbanization_rate(ts, ax=Figure().add_subplot(), lang="zh")
    messages = [str(w.message) for w in caught]
    if figures._cjk_font():
        assert not [m for m in messages if "missing" in m], messages
        assert ax.get_xlabel() == "年份"
    else:
        assert len(caught) == 1 and caught[0].category is UserWarning, messages
        assert "fonts-noto-cjk" in messages[0]
        assert ax.get_xlabel() == "Year"


def test_cjk_font_found_right_after_install_without_clearing_the_cache(monkeypatch):
    """A font installed after matplotlib built its cache is found by rescanning the font folders."""
    from matplotlib import font_manager

    cjk = [f for f in font_manager.fontManager.ttflist if f.name in figures.CJK_FONTS]
    if not cjk and not any(k in p.lower() for p in font_manager.findSystemFonts()
                           for k in figures._CJK_FILE_HINTS):
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    stale = [f for f in font_manager.fontManager.ttflist
             if not any(k in Path(f.fname).name.lower() for k in figures._CJK_FILE_HINTS)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)  # the cache before install
    monkeypatch.setattr(figures, "_RESCANNED", False)
    monkeypatch.setattr(font_manager, "json_dump", lambda *a, **k: None)
    assert figures._cjk_font() in figures.CJK_FONTS


def test_paired_chart_names_the_reference_and_drops_always_zero_panels():
    from urban_sim.reports.compare import paired_figure, zero_items

    diffs = pd.DataFrame({
        "scenario": ["plan", "alt", "plan", "alt"], "indicator": ["urbanization_rate"] * 2 + ["water_leakage_rate"] * 2,
        "place": "county", "year": 2035, "mean_diff": [0.02, 0.01, 0.0, 0.0],
        "ci_low": [0.01, 0.0, 0.0, 0.0], "ci_high": [0.03, 0.02, 0.0, 0.0], "n": 10})
    fig = paired_figure(diffs, "fiscal_constraint", "en")
    assert "Difference to fiscal_constraint" in fig._suptitle.get_text()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 1 and visible[0].get_legend() is None
    assert [t.get_text() for t in visible[0].get_yticklabels()] == ["plan", "alt"]
    assert zero_items(diffs) == ["Water network leakage rate (county) 2035"]


def test_run_report_opens_with_summary_scorecard_and_assumptions(tmp_path):
    import urban_sim as us

    res = us.run(us.load("plan", scale=0.01, end_year=2026), replicates=2)
    folder = res.save(tmp_path / "r", lang="zh")
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 情景模拟报告：plan\n\n## 摘要\n\n情景：plan；按 1:100 抽样模拟")
    assert md.index("## 摘要") < md.index("## 各情景规划目标达成情况") < md.index("## 假设说明")
    assert "Summary" not in md and "n/a" not in md
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and page.count("data:image/png;base64,") == 4
    assert (folder / "summary.md").is_file() and (folder / "manifest.json").is_file()


def test_findings_say_how_much_of_the_requested_investment_cannot_be_financed():
    from urban_sim.reports.sections import findings
    rows = []
    for rep in (0, 1):
        for year in (2025, 2026):
            for sc in ("plan", "base"):
                rows += [(sc, rep, year, "county", "resident_population", 1000.0 + rep),
                         (sc, rep, year, "county_seat", "resident_population", 400.0 + rep),
                         (sc, rep, year, "county", "urbanization_rate", 0.4 + rep / 100)]
            rows += [("plan", rep, year, "county", "investment_total", 600.0),
                     ("plan", rep, year, "county", "investment_unfinanced", 200.0),
                     ("base", rep, year, "county", "investment_total", 500.0),
                     ("base", rep, year, "county", "investment_unfinanced", 0.0)]
    ts = pd.DataFrame(rows, columns=["scenario", "replicate", "year", "place", "indicator", "value"])
    card = pd.DataFrame(columns=["scenario", "indicator", "year", "n", "p_met"])
    text = " ".join(findings(ts, card, "base", "en"))
    assert "25% of the investment plan asks for in 2025–2026 (400 of 1,600 million yuan)" in text
    assert "base asks" not in text
