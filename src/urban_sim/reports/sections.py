"""Sections every report opens with: what was run, the main findings generated from the numbers,
the target × scenario scorecard and the note on what is assumed.

Every function returns plain text or a DataFrame for :class:`urban_sim.reports.html.Document`;
nothing here runs a model or writes a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from urban_sim.model.outputs import label
from urban_sim.reports.labels import FLAG_COLUMNS, fmt_value, flags, target_bound, target_wording, text


def _zh(lang: str) -> bool:
    return lang == "zh"


def run_description(manifest: dict, scenarios: list[str], reference: str | None, lang: str) -> str:
    """One paragraph: scenarios, scale, years, replicates, parameter draws."""
    scale = manifest.get("scale")
    start, end = manifest.get("start_year"), manifest.get("end_year")
    n_rep = manifest.get("n_replicates", 1)
    draws = manifest.get("n_parameter_draws") or 0
    names = "、".join(scenarios) if _zh(lang) else ", ".join(scenarios)
    if _zh(lang):
        ref = f"（参照情景：{reference}）" if reference else ""
        sc = (f"按 1:{1 / scale:,.0f} 抽样模拟（每个主体代表 {1 / scale:,.0f} 人）" if scale and scale < 1
              else "全人口规模模拟")
        par = (f"参数取自后验分布的 {draws} 组抽样" if draws else
               "参数固定（未做参数抽样）：区间只反映随机种子噪声；校准后验的参数不确定性大得多"
               "（2027 年常住人口的方差 99% 来自参数，见 docs/calibration.md），"
               "可用 parameters_from: posterior 纳入")
        crn = "，各情景使用相同随机种子（共同随机数）" if len(scenarios) > 1 else ""
        return (f"情景：{names}{ref}；{sc}；模拟年份 {start}–{end} 年；每个情景 {n_rep} 次重复运行"
                f"{crn}；{par}。")
    ref = f" (reference: {reference})" if reference else ""
    sc = (f"scale {scale:g} (one agent stands for {1 / scale:,.0f} persons)" if scale and scale < 1
          else "full scale (one agent per person)")
    par = (f"parameters from {draws} posterior draws" if draws else
           "parameters fixed (no parameter draws): intervals show seed noise only; the calibration "
           "posterior's parameter uncertainty is far larger (over 99 % of the variance of 2027 "
           "residents, docs/calibration.md); set parameters_from: posterior to include it")
    crn = ", the same seeds in every scenario (common random numbers)" if len(scenarios) > 1 else ""
    return (f"Scenarios: {names}{ref}; {sc}; years {start}–{end}; {n_rep} replicate(s) per "
            f"scenario{crn}; {par}.")


def _end(ts: pd.DataFrame, indicator: str, place: str = "county") -> pd.DataFrame:
    """Replicate values of ``indicator`` at ``place`` in the last year, by scenario."""
    end = ts["year"].max()
    sub = ts[(ts["indicator"] == indicator) & (ts["place"] == place) & (ts["year"] == end)]
    return sub.pivot_table(index="replicate", columns="scenario", values="value")


def _interval(vals: np.ndarray, indicator: str, lang: str) -> str:
    vals = vals[~np.isnan(vals)]
    if len(vals) < 2:
        return ""
    lo, hi = np.quantile(vals, [0.05, 0.95])
    return f"（{fmt_value(indicator, lo, lang)}–{fmt_value(indicator, hi, lang)}）" if _zh(lang) else \
        f" ({fmt_value(indicator, lo, lang)}–{fmt_value(indicator, hi, lang)})"


def findings(ts: pd.DataFrame, card: pd.DataFrame, reference: str, lang: str,
             draws: int = 0) -> list[str]:
    """Three to five sentences generated from the numbers.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long timeseries of every scenario and replicate.
    card : pandas.DataFrame
        :func:`urban_sim.analysis.compare.scorecard` of ``ts``.
    reference : str
        The reference scenario (the only one for a single-scenario report).
    draws : int
        Posterior parameter draws behind the replicates (0: fixed parameters, so intervals are
        seed noise only).
    """
    zh = _zh(lang)
    end, start = int(ts["year"].max()), int(ts["year"].min())
    res, urb = _end(ts, "resident_population"), _end(ts, "urbanization_rate")
    seat = _end(ts, "resident_population", "county_seat")
    out = []
    r, u = res[reference].to_numpy(float), urb[reference].to_numpy(float)
    if zh:
        out.append(f"{end} 年，{reference} 情景常住人口为 {fmt_value('resident_population', np.nanmedian(r), lang)}"
                   f"{_interval(r, 'resident_population', lang)}，常住人口城镇化率为 "
                   f"{fmt_value('urbanization_rate', np.nanmedian(u), lang)}{_interval(u, 'urbanization_rate', lang)}"
                   "（中位数及 5%–95% 区间）。")
    else:
        out.append(f"In {end}, {reference} reaches {fmt_value('resident_population', np.nanmedian(r), lang)} "
                   f"residents{_interval(r, 'resident_population', lang)} and an urbanization rate of "
                   f"{fmt_value('urbanization_rate', np.nanmedian(u), lang)}{_interval(u, 'urbanization_rate', lang)}"
                   " (median and 5–95 % range over replicates).")
    others = [s for s in res.columns if s != reference]
    if not others:
        r0 = ts[(ts["indicator"] == "resident_population") & (ts["place"] == "county")
                & (ts["year"] == start)]["value"].median()
        s0 = ts[(ts["indicator"] == "resident_population") & (ts["place"] == "county_seat")
                & (ts["year"] == start)]["value"].median()
        s1 = np.nanmedian(seat[reference].to_numpy(float)) if reference in seat else np.nan
        out.append(f"{start}–{end} 年常住人口由 {fmt_value('resident_population', r0, lang)} 变为 "
                   f"{fmt_value('resident_population', np.nanmedian(r), lang)}，县城常住人口由 "
                   f"{fmt_value('resident_population', s0, lang)} 变为 {fmt_value('resident_population', s1, lang)}。"
                   if zh else
                   f"From {start} to {end} residents change from {fmt_value('resident_population', r0, lang)} "
                   f"to {fmt_value('resident_population', np.nanmedian(r), lang)}, county-seat residents from "
                   f"{fmt_value('resident_population', s0, lang)} to {fmt_value('resident_population', s1, lang)}.")
    # the scenario that moves urbanization most, with its paired interval
    if others:
        d = urb[others].sub(urb[reference], axis=0)
        best = d.mean().abs().idxmax()
        x = d[best].dropna().to_numpy(float)
        m = x.mean()
        # Student t, like the paired-differences table (analysis/compare.py), so the two agree
        half = (stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
                if len(x) > 1 else np.nan)
        noise = not np.isnan(half) and abs(m) <= half
        ds = (seat[best] - seat[reference]).mean() if best in seat and reference in seat else np.nan
        if zh:
            tail = "，与随机噪声无法区分" if noise else ""
            out.append(f"与 {reference} 相比，{best} 使 {end} 年城镇化率变化 {fmt_value('urbanization_rate', m, lang, signed=True)}"
                       f"（配对差值的 95% 置信区间 ±{half * 100:.1f} 个百分点，"
                       f"{'含参数抽样与随机噪声' if draws else '仅含随机噪声'}{tail}），县城常住人口变化 "
                       f"{fmt_value('resident_population', ds, lang, signed=True)} 人。")
        else:
            tail = ", indistinguishable from seed noise" if noise else ""
            out.append(f"Against {reference}, {best} changes the {end} urbanization rate by "
                       f"{fmt_value('urbanization_rate', m, lang, signed=True)} (95 % interval over "
                       f"{'paired seeds and parameter draws' if draws else 'paired seeds, seed noise only'}: "
                       f"±{half * 100:.1f} pp"
                       f"{tail}) and county-seat residents by {fmt_value('resident_population', ds, lang, signed=True)}.")
    # financing: what a scenario asked for but could not pay (policy/financing.py)
    money = ts[(ts["place"] == "county")
               & ts["indicator"].isin(["investment_total", "investment_unfinanced"])]
    if not money.empty:
        tot = (money.groupby(["scenario", "indicator", "replicate"])["value"].sum()
               .groupby(["scenario", "indicator"]).mean().unstack())
        for sc in tot.index:
            short = float(tot.loc[sc].get("investment_unfinanced", 0.0) or 0.0)
            asked = short + float(tot.loc[sc].get("investment_total", 0.0) or 0.0)
            if asked > 0 and short / asked >= 0.05:
                y0, y1 = int(money["year"].min()), int(money["year"].max())
                out.append(f"{y0}–{y1} 年 {sc} 申请的投资中有 {short / asked:.0%}（{short:,.0f} 百万元）因融资约束"
                           "（自有财力、专项债额度、偿债）无法落实，结果反映实际支出的效果。" if zh else
                           f"{short / asked:.0%} of the investment {sc} asks for in {y0}–{y1} ({short:,.0f} of "
                           f"{asked:,.0f} million yuan) cannot be financed (own funds, bond quota, "
                           "debt service): its effects are those of the money actually spent.")
    # targets
    reached = card[card["n"] > 0]
    if len(reached):
        n_t = reached[["indicator", "year"]].drop_duplicates().shape[0]
        likely = reached[reached["p_met"] >= 0.9].groupby("scenario").size()
        parts = [(s, int(likely.get(s, 0))) for s in reached["scenario"].unique()]
        if zh:
            out.append(f"在模拟期内可评估的 {n_t} 项规划目标中，达成概率不低于 90% 的目标数："
                       + "，".join(f"{s} {k} 项" for s, k in parts) + "。")
        else:
            out.append(f"Of the {n_t} plan targets within the simulated years, the number met with "
                       "probability ≥ 90 % is " + ", ".join(f"{k} in {s}" for s, k in parts) + ".")
        if others:
            piv = reached.pivot_table(index=["indicator", "year"], columns="scenario", values="p_met")
            gain = piv[others].max(axis=1) - piv[reference]
            if len(gain.dropna()) and gain.max() > 0.2:
                (ind, yr), g = gain.idxmax(), gain.max()
                who = piv.loc[(ind, yr), others].idxmax()
                row = card[(card["indicator"] == ind) & (card["year"] == yr)].iloc[0].to_dict()
                name = label(ind, lang)
                out.append(f"变化最大的是“{name}”（{yr} 年，目标 {target_bound(row, lang)}）：达成概率由 "
                           f"{piv.loc[(ind, yr), reference]:.0%} 升至 {who} 的 {piv.loc[(ind, yr), who]:.0%}。"
                           if zh else
                           f"The largest change is {name} ({yr}, target {target_bound(row, lang)}): its "
                           f"probability rises from {piv.loc[(ind, yr), reference]:.0%} to "
                           f"{piv.loc[(ind, yr), who]:.0%} in {who}.")
    return out[:6]


def scorecard_table(card: pd.DataFrame, plan: pd.DataFrame | None, lang: str) -> pd.DataFrame:
    """Target × scenario table: one row per target (plan wording, year, bound), one column per
    scenario with ``mean [p05–p95] P=…``, and a flags column when the plan table has flags.

    Parameters
    ----------
    card : pandas.DataFrame
        :func:`urban_sim.analysis.compare.scorecard` output.
    plan : pandas.DataFrame or None
        ``plan_targets.csv`` (for ``wording_zh`` and flag columns).
    """
    t = lambda k: text(k, lang)  # noqa: E731
    cols = ["indicator", "year", "operator", "target", "target_high",
            *[c for c in FLAG_COLUMNS if c in card]]
    keys = card[cols].drop_duplicates(["indicator", "year"])
    extra = plan.drop_duplicates(["indicator", "year"]).set_index(["indicator", "year"]) if plan is not None else None
    rows = []
    for k in keys.to_dict("records"):
        if extra is not None and (k["indicator"], k["year"]) in extra.index:
            k = {**extra.loc[(k["indicator"], k["year"])].to_dict(), **k}  # wording_zh
        row = {t("indicator"): target_wording(k, lang), t("target"): target_bound(k, lang)}
        for sc, sub in card[(card["indicator"] == k["indicator"]) & (card["year"] == k["year"])].groupby(
                "scenario", sort=False):
            c = sub.iloc[0]
            if c["n"] == 0:
                row[sc] = "缺失" if lang == "zh" else "n/a"
                continue
            v = fmt_value(k["indicator"], c["mean"], lang)
            lo, hi = (fmt_value(k["indicator"], c[q], lang) for q in ("p05", "p95"))
            band = f" [{lo}–{hi}]" if c["n"] > 1 and lo != hi else ""
            row[sc] = f"{v}{band} P={c['p_met']:.0%}"
        f = flags(k, lang)
        if any(col in k for col in FLAG_COLUMNS):
            row[t("flags")] = f
        rows.append(row)
    return pd.DataFrame(rows)


def data_status_counts(data_dir: str | Path | None) -> dict[str, int]:
    """How many input rows of the county's CSV tables are observed, derived or assumed."""
    from urban_sim.data.tables import load_county_cached

    folder = Path(load_county_cached(data_dir).data_dir)
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("*.csv")):
        try:
            status = pd.read_csv(path, usecols=["status"])["status"]
        except (ValueError, KeyError):
            continue
        for s, n in status.value_counts().items():
            counts[str(s)] = counts.get(str(s), 0) + int(n)
    return counts


def assumption_note(counts: dict[str, int], manifest: dict, lang: str) -> list[str]:
    """Bullets on what is assumed: input status counts, what the bands show, the scale."""
    total = sum(counts.values()) or 1
    a, d, o = (counts.get(k, 0) for k in ("assumed", "derived", "observed"))
    draws = manifest.get("n_parameter_draws") or 0
    scale = manifest.get("scale") or 1.0
    if lang == "zh":
        out = [f"输入数据大多为假设值：{total} 行输入数据中，{a} 行为假设（{a / total:.0%}），{d} 行为推算，"
               f"{o} 行为观测（每个数值的来源与状态见 data/lin_county）。结果是情景推演，而非预测。",
               (f"区间包含 {draws} 组参数抽样的不确定性与随机噪声。" if draws else
                "图表中的区间与 P 值只反映随机种子噪声（相同参数、不同随机抽样），不包含输入数据和参数的不确定性；"
                "参数不确定性请用参数抽样或敏感性分析评估。")]
        if scale < 1:
            out.append(f"按 1:{1 / scale:,.0f} 抽样模拟：人口少的乡镇结果噪声较大。")
        return out
    out = [f"Inputs are largely assumed: of {total} input rows, {a} are assumed ({a / total:.0%}), {d} derived "
           f"and {o} observed (source and status of every number in data/lin_county). Results are "
           "scenario explorations, not forecasts.",
           (f"Bands and P include parameter uncertainty from {draws} parameter draws as well as seed noise." if draws else
            "Bands, intervals and P show seed noise only (the same parameters with different random draws), "
            "not uncertainty in inputs or parameters; use parameter draws or the sensitivity analysis for that.")]
    if scale < 1:
        out.append(f"Simulated at scale {scale:g} (one agent per {1 / scale:,.0f} persons): small places are noisy.")
    return out


__all__ = ["assumption_note", "data_status_counts", "findings", "run_description", "scorecard_table"]
