"""Report of a lever analysis (``urban-sim sensitivity`` on an experiment with ``scenarios``).

The answer comes first: a table of 2027 targets (the plan's wording and unit, from the data) ×
their top three levers with direction and size; then the conditions for success (PRIM boxes);
then the details (full rankings, scenarios, checks, emulator error, convergence); then what is
assumed. Every label comes from the output catalogue (:mod:`urban_sim.model.outputs`), the
lever labels below and the saved ``outputs.csv``; nothing is parsed from output names.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from urban_sim.analysis.sensitivity.levers import LeverStudy
from urban_sim.config.experiment import Experiment
from urban_sim.reports.html import Document

LEVER_LABELS: dict[str, tuple[str, str]] = {
    "policy.levers.hukou_service_access": ("hukou service access", "居住证公共服务均等化"),
    "policy.levers.housing_support_share": ("housing support", "新市民住房保障"),
    "policy.levers.land_reform": ("land and homestead reform", "土地与宅基地制度改革"),
    "policy.levers.vocational_training_intensity": ("vocational training", "职业技能培训"),
    "policy.levers.school_expansion_priority": ("school expansion", "学校扩容"),
    "policy.levers.tourism_promotion": ("tourism promotion", "文旅推广"),
    "policy.investment.total_million_yuan": ("total investment", "年度投资总额"),
    "policy.investment.growth_rate_per_year": ("investment growth", "投资年增长率"),
    "policy.start_year": ("policy start year", "政策起始年份"),
    "uncertainties.outside_wage_growth_rate_per_year": ("outside wage growth", "县外工资增长率"),
    "uncertainties.energy_price_index": ("energy price index", "能源价格指数"),
    "uncertainties.construction_cost_multiplier": ("construction cost multiplier", "建设成本系数"),
    "uncertainties.fertility_multiplier": ("fertility multiplier", "生育率系数"),
}
"""Lever path → (English, Chinese) label; task-area amounts are labelled from the catalogue."""

TEXT = {
    "title": ("Which levers push each 2027 target furthest", "哪些抓手最能推动2027年各项目标"),
    "answer": ("Answer: top levers per 2027 target", "结论：各2027年目标的前三位抓手"),
    "answer_note": (
        "Levers ranked by total-order Sobol index ST (mean over the uncertainty scenarios). Each "
        "cell: lever, direction (↑ raises, ↓ lowers the outcome, ? not distinguishable from 0), "
        "effect in the target's unit per step of the lever [range over scenarios], ST, the "
        "change in the probability of meeting the target from the lowest to the highest quarter "
        "of the lever's range (ΔP(met)), and in how many scenarios the lever is in the top "
        "three. † marks an effect per step larger than the lever's sampled range (a linear "
        "extrapolation). Investment effects are those of the amount requested for the area: "
        "above what the financing constraint (own funds, bond quota, debt service) allows, "
        "more for one area means less for the others.",
        "抓手按总效应Sobol指数ST（各不确定情景的平均值）排序。每格：抓手、方向（↑提高、↓降低、?与0无法区分）、"
        "抓手每变动一个步长对目标的影响（目标单位）[各情景范围]、ST、抓手从取值范围最低四分之一到最高四分之一时"
        "达标概率的变化（ΔP(达标)），以及在几个情景中位列前三。†表示步长大于抽样范围（线性外推）。"
        "投资效应指该领域申请的投资额：超出融资约束（自有资金、专项债额度、还本付息）时，"
        "一个领域多得即其他领域少得。"),
    "conditions": ("Conditions for success (PRIM scenario discovery)", "成功条件（PRIM情景发现）"),
    "cond_note": (
        "Ranges of levers and uncertainties within which the outcome is met in at least {t:.0%} "
        "of runs (density), and the share of all successful runs inside them (coverage).",
        "在该范围内至少{t:.0%}的模拟达到目标（密度）；覆盖率为全部达标模拟中落在该范围内的比例。"),
    "details": ("Details: full rankings", "详细结果：完整排序"),
    "scenarios": ("Uncertainty scenarios", "不确定情景"),
    "checks": ("Scale, noise, convergence and emulator checks", "规模、噪声、收敛与代理模型检验"),
    "assumed": ("What is assumed", "假设说明"),
    "warnings": ("Warnings", "警告"),
    "not_varying": ("Outcomes that do not vary over the levers (not ranked): ",
                    "在抓手范围内不变化的指标（未排序）："),
    "not_settled": ("Top three not settled between N/2 and N: ", "N/2与N之间前三位尚未稳定："),
    "tradeoffs": ("Trade-offs: levers that raise one headline outcome and lower another "
                  "(ST ≥ 0.05, effect per step as above):",
                  "权衡：提高一项主要结果却降低另一项的抓手（ST ≥ 0.05，每步长效应同上）："),
    "all_settled": ("Top three the same at N/2 and N for every ranked outcome.",
                    "所有已排序指标的前三位在N/2与N下一致。"),
}
COLS = {
    "target": ("2027 target", "2027年目标"), "goal": ("target value", "目标值"),
    "lever1": ("1st lever", "第一抓手"), "lever2": ("2nd lever", "第二抓手"),
    "lever3": ("3rd lever", "第三抓手"), "settled": ("settled", "已稳定"),
    "p_met": ("P(met) over the design", "达标概率（设计均值）"),
    "outcome": ("outcome", "结果"), "base_rate": ("share of runs met", "达标模拟比例"),
    "box": ("conditions", "条件"), "coverage": ("coverage", "覆盖率"),
    "density": ("density", "密度"), "note": ("note", "说明"),
}


def _t(key: str, lang: str) -> str:
    return TEXT[key][1 if lang == "zh" else 0]


def lever_label(name: str, lang: str = "en") -> str:
    """Display label of a lever or uncertainty path in ``lang``."""
    from urban_sim.model.outputs import TASK_AREA_LABELS

    i = 1 if lang == "zh" else 0
    if name in LEVER_LABELS:
        return LEVER_LABELS[name][i]
    head, _, leaf = name.rpartition(".")
    if head.endswith("amount_million_yuan") and leaf in TASK_AREA_LABELS:
        area = TASK_AREA_LABELS[leaf][i]
        return f"{area}投资" if lang == "zh" else f"investment: {area.lower()}"
    if head == "parameters":
        return f"{leaf}（后验抽样）" if lang == "zh" else f"{leaf} (posterior draw)"
    return ".".join(name.split(".")[-2:])


def _target_text(o, lang: str) -> tuple[str, str]:
    """(label, target value text) of an output row of ``outputs.csv``."""
    label = o.label_zh if lang == "zh" else o.label_en
    if not o.is_target:
        return label, ""
    f = float(o.display_factor)
    unit = "%" if o.unit == "pp" else (o.unit or "")
    if o.operator == "between":
        goal = f"{o.target * f:g}–{o.target_high * f:g} {unit}"
    else:
        goal = f"{o.operator} {o.target * f:g} {unit}"
    return label, goal.strip()


def _num(x: float) -> str:
    return f"{x:+,.0f}" if abs(x) >= 100 else f"{x:+.2g}" if abs(x) < 0.01 else f"{x:+.3g}"


def _unit_text(o, r, exp: Experiment, lang: str) -> str:
    """``<output unit> per <step> <lever unit>`` in ``lang`` (catalogue labels); ``o`` is a row
    of ``outputs.csv`` indexed by indicator."""
    from urban_sim.analysis.sensitivity.levers import lever_unit
    from urban_sim.model.outputs import OUTPUTS, unit_label

    if lang != "zh":
        return r.unit
    if o.unit == "pp":
        u = "个百分点"
    elif o.stat == "n_met":
        u = "项目标"
    else:
        u = unit_label(o.name, "zh") if o.name in OUTPUTS else o.unit
    lu = lever_unit(r.lever, exp.levers, "zh").strip()
    if lu == "百万元/年" and r.per % 100 == 0:  # 100 million yuan = 1 亿元
        return f"{u}/每{r.per / 100:g}亿元/年"
    return f"{u}/每{r.per:g}{lu}"


def extrapolated(lever: str, step: float, exp: Experiment) -> bool:
    """True when the lever's sampled range is narrower than the step its effect is given per
    (the effect per step is then a linear extrapolation of the sampled response)."""
    f = next((f for f in exp.levers if f.name == lever), None)
    return f is not None and (f.bounds[1] - f.bounds[0]) < step


def _lever_cell(r, o, exp: Experiment, n_scen: int, lang: str) -> str:
    arrow = {"+": "↑", "-": "↓"}.get(r.direction, "?")
    top = round(r.robust_top3_share * n_scen)
    mark = "†" if extrapolated(r.lever, r.per, exp) else ""
    eff = (f"{_num(r.effect_per_unit)}{mark} {_unit_text(o, r, exp, lang)} "
           f"[{_num(r.effect_low)}, {_num(r.effect_high)}]")
    st = f"ST {r.ST:.2f}±{r.ST_conf:.2f}"
    robust = f"前三 {top}/{n_scen}" if lang == "zh" else f"top 3 in {top}/{n_scen}"
    pm = getattr(r, "p_met_change", float("nan"))
    dp = "" if pd.isna(pm) else f"; ΔP(达标) {pm:+.2f}" if lang == "zh" else f"; ΔP(met) {pm:+.2f}"
    return f"{lever_label(r.lever, lang)} {arrow} {eff}; {st}{dp}; {robust}"


def _p_met_text(g: pd.DataFrame, lang: str) -> str:
    """Mean P(met) over the design, saying when ΔP(met) is ~0 by construction."""
    if "p_met" not in g or g["p_met"].isna().all():
        return ""
    p = float(g["p_met"].iloc[0])
    zh = lang == "zh"
    if p <= 0.02:
        return f"{p:.0%}（几乎从未达标，ΔP≈0）" if zh else f"{p:.0%} (met in almost no run: ΔP ≈ 0)"
    if p >= 0.98:
        return f"{p:.0%}（几乎总是达标，ΔP≈0）" if zh else f"{p:.0%} (met in almost every run: ΔP ≈ 0)"
    return f"{p:.0%}"


MIN_ST = 0.01
"""A 2nd or 3rd lever with mean ST below this is not shown as a top lever (it explains less than
1 % of the outcome's variance over the levers)."""


def answer_table(exp: Experiment, study: LeverStudy, lang: str = "en") -> pd.DataFrame:
    """The first table: one row per ranked 2027 target and headline outcome, its top three
    (2nd and 3rd only with ST ≥ :data:`MIN_ST`)."""
    n_scen = int(study.meta.get("n_scenarios", len(study.scenarios)))
    outs = study.outputs.set_index("indicator")
    rows = []
    c = {k: v[1 if lang == "zh" else 0] for k, v in COLS.items()}
    for target, g in study.ranking.groupby("target", sort=False):
        o = outs.loc[target]
        label, goal = _target_text(o, lang)
        g = g.sort_values("rank")
        row = {c["target"]: label, c["goal"]: goal, c["p_met"]: _p_met_text(g, lang)}
        for k in range(3):
            if k < len(g) and (k == 0 or g.iloc[k].ST >= MIN_ST):
                row[c[f"lever{k + 1}"]] = _lever_cell(g.iloc[k], o, exp, n_scen, lang)
            else:
                row[c[f"lever{k + 1}"]] = (f"—（其余抓手ST < {MIN_ST:g}）" if lang == "zh"
                                           else f"— (other levers ST < {MIN_ST:g})") if k < len(g) else ""
        row[c["settled"]] = bool(g["settled"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def _box_text(box: str, lang: str) -> str:
    if not isinstance(box, str) or not box:
        return ""
    parts = []
    for item in box.split("; "):
        name, _, rng = item.partition(" in ")
        parts.append(f"{lever_label(name, lang)} ∈ {rng}")
    return "; ".join(parts)


def conditions_table(study: LeverStudy, lang: str = "en") -> pd.DataFrame:
    """PRIM boxes with labels in ``lang``."""
    c = {k: v[1 if lang == "zh" else 0] for k, v in COLS.items()}
    outs = study.outputs.set_index("indicator")
    rows = []
    for r in study.prim.itertuples():
        ind = r.outcome.removesuffix("_2027_met")
        if ind in outs.index and r.outcome.endswith("_met"):
            label = _target_text(outs.loc[ind], lang)[0]
        else:
            k = r.outcome.rsplit("_ge_", 1)[-1]
            label = f"至少{k}项2027年目标达标" if lang == "zh" else f"at least {k} targets of 2027 met"
        note = r.note if isinstance(r.note, str) else ""
        box = r.box if isinstance(r.box, str) else ""
        if box and not any(item.startswith("policy.") for item in box.split("; ")):
            note = ("方框中没有抓手：能否达标取决于行为参数与外部不确定性，而非抓手设定" if lang == "zh" else
                    "no lever in the box: success depends on behavioural parameters and external "
                    "uncertainties, not on a lever setting") + (f"; {note}" if note else "")
        rows.append({c["outcome"]: label, c["base_rate"]: f"{r.base_rate:.0%}",
                     c["box"]: _box_text(box, lang),
                     c["coverage"]: "" if math.isnan(r.coverage) else f"{r.coverage:.0%}",
                     c["density"]: "" if math.isnan(r.density) else f"{r.density:.0%}",
                     c["note"]: note})
    return pd.DataFrame(rows)


def tradeoffs(exp: Experiment, study: LeverStudy, lang: str = "en", min_st: float = 0.05) -> list[str]:
    """Levers that raise one headline outcome (residents, county-seat population, urbanization
    rate, non-farm jobs: more is the plan's aim for each) and lower another, both with ST ≥
    ``min_st`` and an effect interval that excludes 0."""
    outs = study.outputs.set_index("indicator")
    head = study.outputs[~study.outputs["is_target"].astype(bool)
                         & (study.outputs["stat"] == "value")]["indicator"].tolist()
    r = study.ranking[study.ranking["target"].isin(head) & (study.ranking["ST"] >= min_st)
                      & study.ranking["direction"].isin(["+", "-"])]
    lines = []
    for lever, g in r.groupby("lever", sort=False):
        if set(g["direction"]) != {"+", "-"}:
            continue
        parts = []
        for row in g.itertuples():
            o = outs.loc[row.target]
            label = o.label_zh if lang == "zh" else o.label_en
            parts.append(f"{label} {_num(row.effect_per_unit)} {_unit_text(o, row, exp, lang)}")
        lines.append((f"{lever_label(lever, lang)}：" if lang == "zh" else f"{lever_label(lever)}: ")
                     + "; ".join(parts))
    return lines


def _heatmap(study: LeverStudy, lang: str):
    from matplotlib.figure import Figure

    piv = study.ranking.pivot(index="lever", columns="target", values="ST").fillna(0.0)
    fig = Figure(figsize=(max(5.0, 0.4 * piv.shape[1] + 3.5), max(3.0, 0.3 * piv.shape[0] + 1.8)))
    ax = fig.add_subplot()
    im = ax.imshow(piv.clip(0, 1).to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(piv.shape[1]), list(piv.columns), rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(piv.shape[0]), [lever_label(n, "en") for n in piv.index], fontsize=7)
    ax.set_title("ST (mean over scenarios), levers x 2027 outcomes", fontsize=9)
    fig.colorbar(im, ax=ax, label="ST (clipped to [0, 1] for drawing)")
    fig.tight_layout()
    return fig


def lever_document(exp: Experiment, study: LeverStudy, lang: str = "en") -> Document:
    """The report as a :class:`~urban_sim.reports.html.Document`."""
    m = study.meta
    zh = lang == "zh"
    doc = Document(_t("title", lang), lang=lang)
    runs = m.get("n_runs", {})
    doc.paragraph(
        (f"{len(m['levers'])}个抓手，{m['n_scenarios']}个不确定情景，N = {m['N']}，规模 {m['scale']}，"
         f"每点重复 {m['replicates']} 次，真实模拟 {m.get('n_runs_total', 0)} 次，用时 "
         f"{m['wall_seconds'] / 60:.1f} 分钟" + ("，由高斯过程代理模型计算Sobol求和。" if m.get("emulator") else "。"))
        if zh else
        (f"{len(m['levers'])} levers, {m['n_scenarios']} uncertainty scenarios, N = {m['N']}, "
         f"scale {m['scale']}, {m['replicates']} replicate(s) per point, {m.get('n_runs_total', 0)} "
         f"real model runs ({', '.join(f'{v} {k}' for k, v in runs.items())}), "
         f"{m['wall_seconds'] / 60:.1f} min"
         + ("; Sobol sums carried by a Gaussian-process emulator." if m.get("emulator") else "."))
        , css="summary")
    doc.heading(_t("answer", lang))
    doc.paragraph(_t("answer_note", lang), css="note")
    doc.table(answer_table(exp, study, lang), wrap=True)
    unranked = study.outputs[~study.outputs["varies"].astype(bool)]
    if len(unranked):
        labels = [(r.label_zh if zh else r.label_en) for r in unranked.itertuples()]
        doc.paragraph(_t("not_varying", lang) + "; ".join(labels), css="note")
    not_settled = sorted(set(study.ranking.loc[~study.ranking["settled"].astype(bool), "target"]))
    doc.paragraph(_t("not_settled", lang) + ", ".join(not_settled) if not_settled
                  else _t("all_settled", lang), css="note")
    trade = tradeoffs(exp, study, lang)
    if trade:
        doc.paragraph(_t("tradeoffs", lang), css="note")
        doc.bullets(trade)
    doc.heading(_t("conditions", lang))
    doc.paragraph(_t("cond_note", lang).format(t=exp.prim.threshold), css="note")
    doc.table(conditions_table(study, lang), wrap=True)
    doc.heading(_t("details", lang))
    full = study.ranking.copy()
    full["lever"] = [lever_label(n, lang) for n in full["lever"]]
    doc.table(full[["target", "rank", "lever", "group", "ST", "ST_conf", "effect_per_unit",
                    "effect_low", "effect_high", "unit", "direction", "p_met_change",
                    "robust_top3_share", "emulator_r2"] + (["p_met"] if "p_met" in full else [])],
              formats={"ST": "{:.3f}", "ST_conf": "{:.3f}", "effect_per_unit": "{:+.3g}",
                       "effect_low": "{:+.3g}", "effect_high": "{:+.3g}",
                       "p_met_change": "{:+.2f}", "robust_top3_share": "{:.2f}", "p_met": "{:.2f}",
                       "emulator_r2": "{:.2f}"})
    doc.figure("lever_st_heatmap", _heatmap(study, lang))
    doc.heading(_t("scenarios", lang))
    doc.table(study.scenarios[[c for c in study.scenarios.columns if not c.startswith("unit:")]])
    doc.heading(_t("checks", lang))
    doc.bullets(_check_lines(exp, study))
    if study.emulator_cv is not None:
        doc.table(study.emulator_cv, formats={"r2": "{:.3f}", "rmse": "{:.4g}", "sd": "{:.4g}",
                                              "rmse_over_sd": "{:.3f}"})
    if study.confirmation is not None:
        doc.table(study.confirmation)
    scale_table = study.checks.get("scale_table")
    if scale_table is not None:
        doc.table(scale_table, formats={"rel_diff": "{:.2%}"})
    doc.heading(_t("assumed", lang))
    doc.paragraph(_assumptions(exp, study, lang))
    doc.heading(_t("warnings", lang))
    doc.bullets(study.warnings or ["none"])
    return doc


def _check_lines(exp: Experiment, study: LeverStudy) -> list[str]:
    ch, m = study.checks, study.meta
    lines = []
    if exp.checks:
        lines.append(f"scale {ch['scale']}: the smallest of {sorted({*exp.checks.scales, 1.0})} "
                     f"whose headline means are within {exp.checks.scale_tolerance:.0%} of scale 1")
        lines.append(f"replicates {ch['replicates']} per point: keeps seed noise below "
                     f"{exp.checks.noise_share:.0%} of each ranked output's variance "
                     f"(capped at {exp.checks.max_replicates}; see replicate_check.csv)")
    else:
        lines.append(f"scale {ch['scale']} and {ch['replicates']} replicate(s) as set in the "
                     "experiment file (no checks block)")
    conv = study.convergence
    if len(conv):
        same = conv.groupby("output")["settled"].all()
        lines.append(f"top three the same at N/2 = {m['N'] // 2} and N = {m['N']} for "
                     f"{int(same.sum())} of {len(same)} ranked outcomes")
    if study.confirmation is not None and len(study.confirmation):
        c = study.confirmation
        lines.append(f"emulator top three confirmed on real runs (scenario 0): same set for "
                     f"{int(c['same_set'].sum())} of {len(c)} outcomes, same first lever for "
                     f"{int(c['same_first'].sum())}")
    return lines


def _assumptions(exp: Experiment, study: LeverStudy, lang: str = "en") -> str:
    if lang == "zh":
        return _assumptions_zh(exp)
    post = ("Behavioural parameters: each scenario takes one weighted draw of the calibration "
            f"posterior ({exp.scenarios.posterior}); with the emulator the posterior parameters "
            "are emulator inputs (each training run takes a weighted draw)."
            if exp.scenarios.posterior else
            "Behavioural parameters are held at the calibrated values of parameters.csv.")
    lev = ", ".join(f"{lever_label(f.name)} {f.bounds[0]:g}–{f.bounds[1]:g}" for f in exp.levers)
    unc = ", ".join(f"{f.name.split('.')[-1]} {f.bounds[0]:g}–{f.bounds[1]:g}"
                    for f in exp.uncertainties)
    return (f"Lever ranges (uniform unless the experiment file says otherwise; status: assumed): "
            f"{lev}. Task-area investment is sampled as each area's own amount (million yuan "
            f"per year from {exp.levers[0].name.split('.')[0]}.start_year), the total being their "
            f"sum. Uncertainty scenarios: Latin hypercube over {unc}. {post} Effects are "
            "OLS slopes over the Saltelli design per scenario, so they describe the average "
            "response over the lever ranges, not a response at the plan's settings; p_met_change "
            "is P(met) with the lever in the top quarter of its range minus the bottom quarter.")


def _assumptions_zh(exp: Experiment) -> str:
    lev = "，".join(f"{lever_label(f.name, 'zh')} {f.bounds[0]:g}–{f.bounds[1]:g}" for f in exp.levers)
    unc = "，".join(f"{lever_label(f.name, 'zh')} {f.bounds[0]:g}–{f.bounds[1]:g}"
                   for f in exp.uncertainties)
    post = (f"行为参数：每个情景从校准后验（{exp.scenarios.posterior}）按权重抽取一组；使用代理模型时后验参数也是"
            "代理模型的输入（每次训练模拟按权重抽取一组）。" if exp.scenarios.posterior else
            "行为参数取parameters.csv中的校准值。")
    return (f"抓手取值范围（除实验文件另有规定外为均匀分布；状态：假设）：{lev}。各任务领域投资按该领域自身金额"
            "（百万元/年，自政策起始年起）抽样，总额为各领域之和。"
            f"不确定情景：对{unc}做拉丁超立方抽样。{post}"
            "效应为各情景Saltelli设计上的最小二乘斜率，描述抓手范围内的平均响应，而非规划设定值处的响应；"
            "ΔP(达标)为抓手处于其范围最高四分之一时与最低四分之一时达标概率之差。")


def write_lever_report(out: str | Path, exp: Experiment, study: LeverStudy,
                       lang: str = "en") -> list[Path]:
    """Write ``report.html``, ``report.md`` and ``figures/`` of a lever study into ``out``."""
    return lever_document(exp, study, lang).write(out)
