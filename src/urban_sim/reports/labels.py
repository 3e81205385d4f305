"""Words a reader sees in a report, in English and Chinese, and values formatted with their unit.

Output names, units, places and task areas are labelled from the declared output catalogue
(:mod:`urban_sim.model.outputs`); target rows use the plan's own wording (``wording_zh`` of
``plan_targets.csv``) in Chinese and the catalogue label with the target in English.
"""

from __future__ import annotations

import math

import pandas as pd

from urban_sim.model.outputs import OUTPUTS, UNITS, label, unit

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "compare_title": "Scenario comparison", "run_title": "Scenario report",
        "summary": "Summary", "what_run": "What was run", "findings": "Main findings",
        "scorecard": "Plan targets by scenario",
        "scorecard_note": ("Each cell: mean over replicates, [5 %–95 %] interval, and P = share of "
                           "replicates meeting the target. Targets are the action plan's "
                           "(临政办发〔2024〕37号)."),
        "assumptions": "What is assumed", "scenarios": "Scenarios", "differs": "What differs",
        "fans": "Headline indicators (median and 90 % band across replicates)",
        "paired": "Paired differences against the reference scenario",
        "paired_title": "Difference to {ref} (mean and 95 % interval over paired replicates)",
        "areas": "Investment and jobs by task area", "runs": "Run details", "key": "Key numbers",
        "figures": "Figures", "target": "Target", "year": "Year", "flags": "Flags",
        "indicator": "Indicator", "place": "Place", "scenario": "Scenario", "setting": "Setting",
        "task_area": "Task area", "inv": "Cumulative investment (million yuan)",
        "jobs": "Jobs attributable to the task area (last year)", "p": "P",
        "diff": "Difference", "interval": "95 % interval", "n": "Pairs", "value": "Value",
        "met": "Met", "p_met": "Probability of meeting the target", "unit": "Unit",
        "median": "Median", "na_note": "no replicate has a value (place empty)",
        "dropped_zero": "Not shown (identical in every scenario): {items}.",
        "decided_before_policy": "decided before the plan can act",
        "reference": "reference",
    },
    "zh": {
        "compare_title": "情景比较", "run_title": "情景模拟报告",
        "summary": "摘要", "what_run": "模拟内容", "findings": "主要结论",
        "scorecard": "各情景规划目标达成情况",
        "scorecard_note": ("每格：各重复运行的均值、[5%–95%] 区间，P 为达成目标的重复运行占比。"
                           "目标取自《推进以县城为重要载体的城镇化建设行动方案》（临政办发〔2024〕37号）。"),
        "assumptions": "假设说明", "scenarios": "情景", "differs": "情景差异",
        "fans": "主要指标（各重复运行的中位数与 90% 区间）",
        "paired": "相对参照情景的配对差异",
        "paired_title": "与{ref}之差（配对重复运行的均值与 95% 置信区间）",
        "areas": "各任务领域的投资与就业", "runs": "运行信息", "key": "主要数据",
        "figures": "图表", "target": "目标", "year": "年份", "flags": "标注",
        "indicator": "指标", "place": "区域", "scenario": "情景", "setting": "设置",
        "task_area": "任务领域", "inv": "累计投资（百万元）", "jobs": "任务领域带动就业（末年）",
        "p": "P", "diff": "差值", "interval": "95% 置信区间", "n": "配对数", "value": "数值",
        "met": "达成", "p_met": "达成目标的概率", "unit": "单位", "median": "中位数",
        "na_note": "所有重复运行均无数值（该地无人）",
        "dropped_zero": "未显示（各情景完全相同）：{items}。",
        "decided_before_policy": "规划实施前已基本确定",
        "reference": "参照",
    },
}
"""Report words by language."""

FLAG_COLUMNS = ("decided_before_policy",)
"""Boolean columns of ``plan_targets.csv`` shown as flags in the scorecard (when present)."""

_OPS = {">=": "≥", "<=": "≤"}


def text(key: str, lang: str) -> str:
    """Report word ``key`` in ``lang``."""
    return TEXT[lang][key]


def fmt_value(indicator: str, value, lang: str = "en", *, signed: bool = False) -> str:
    """``value`` of output ``indicator`` with its unit: shares as percent (``42.1%``), counts
    of persons and jobs with thousands separators, others with 3 significant digits; NaN as
    n/a (缺失). ``signed`` prefixes + for positive values (differences; shares then in
    percentage points)."""
    if value is None or pd.isna(value):
        return "缺失" if lang == "zh" else "n/a"
    v = float(value)
    sign = "+" if signed and v > 0 else ""
    u = unit(indicator) if indicator in OUTPUTS else ""
    if u == "share":
        if signed:
            pp = " 个百分点" if lang == "zh" else " pp"
            return f"{sign}{v * 100:.1f}{pp}"
        return f"{v:.1%}"
    if u == "flag":
        return fmt_bool(v >= 0.5, lang)
    if abs(v) >= 1000 or u in ("persons", "households", "jobs", "persons_per_year", "count"):
        return f"{sign}{v:,.0f}"
    return f"{sign}{v:.3g}"


def fmt_bool(value: bool, lang: str) -> str:
    """yes/no (是/否)."""
    return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")


def with_unit(indicator: str, lang: str) -> str:
    """Label of ``indicator`` followed by its unit in brackets (omitted for shares and flags)."""
    u = unit(indicator)
    name = label(indicator, lang)
    if u in ("share", "flag"):
        return name
    return f"{name}（{UNITS[u][1]}）" if lang == "zh" else f"{name} ({UNITS[u][0]})"


def target_bound(row, lang: str = "en") -> str:
    """The target as text, e.g. ``≥ 42.0%`` or ``1.1–1.5``, from a row with ``indicator,
    operator, target, target_high``."""
    if row["operator"] == "between":
        return f"{fmt_value(row['indicator'], row['target'], lang)}–{fmt_value(row['indicator'], row['target_high'], lang)}"
    return f"{_OPS.get(row['operator'], row['operator'])} {fmt_value(row['indicator'], row['target'], lang)}"


def target_wording(row, lang: str = "en") -> str:
    """How a reader sees one target: the plan's own wording in Chinese (``wording_zh``), the
    catalogue label with year and bound in English."""
    if lang == "zh" and isinstance(row.get("wording_zh"), str) and row["wording_zh"]:
        return f"{row['wording_zh']}（{int(row['year'])}年）"
    return f"{label(row['indicator'], lang)} {target_bound(row, lang)} by {int(row['year'])}"


def flags(row, lang: str = "en") -> str:
    """The flags of a target row (columns :data:`FLAG_COLUMNS` that are true), joined."""
    out = []
    for col in FLAG_COLUMNS:
        v = row.get(col)
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).lower() in (
                "1", "true", "yes", "1.0"):
            out.append(text(col, lang))
    return "; ".join(out)


__all__ = ["FLAG_COLUMNS", "TEXT", "flags", "fmt_bool", "fmt_value", "target_bound",
           "target_wording", "text", "with_unit"]
