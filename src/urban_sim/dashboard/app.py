"""The browser dashboard (solara, the framework of Mesa's SolaraViz): sliders for the levers and the
task-area budgets, a choice of uncertainty scenario, a real model run at small scale on every
change, and a button that runs the full ensemble and saves it as a normal output folder.

Start it with ``urban-sim dashboard [SCENARIO] [--port N]``, or ``solara run
urban_sim.dashboard.app``. The scenario comes from the environment variable
``URBAN_SIM_DASHBOARD_SCENARIO`` (default ``plan``), the language from
``URBAN_SIM_DASHBOARD_LANG`` (``en`` or ``zh``).
"""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import solara  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from urban_sim.config.schema import TASK_AREAS  # noqa: E402
from urban_sim.dashboard.whatif import (  # noqa: E402
    LEVER_LABELS, UNCERTAINTY_LABELS, UNCERTAINTY_SCENARIOS, Settings, run_full, run_what_if,
)
from urban_sim.model.outputs import label  # noqa: E402
from urban_sim.reports.figures import _language  # noqa: E402
from urban_sim.reports.labels import fmt_value, target_bound  # noqa: E402

SCENARIO = os.environ.get("URBAN_SIM_DASHBOARD_SCENARIO", "plan")
LANG = os.environ.get("URBAN_SIM_DASHBOARD_LANG", "en")
_START = Settings.from_scenario(SCENARIO)

levers = {k: solara.reactive(v) for k, v in _START.levers.items()}
shares = {a: solara.reactive(v) for a, v in _START.shares.items()}
total = solara.reactive(_START.total_million_yuan)
uncertainty = solara.reactive("central")
full_status = solara.reactive("")

_WORDS = {
    "en": {"title": "urban_sim what-if", "levers": "Policy levers (0–1)", "budget": "Task-area budget weights",
           "total": "Annual investment (million yuan)", "unc": "Uncertainty scenario",
           "urb": "Urbanization rate", "took": "model run: {s:.2f} s at scale {scale}",
           "pop": "Residents by place", "jobs": "Jobs created by task area (last year)",
           "card": "Plan targets against the baseline", "full": "Run full ensemble (10 replicates, full scale)",
           "target": "Target", "this": "This setting", "base": "Baseline", "running": "running… {out}",
           "saved": "saved: {out}"},
    "zh": {"title": "urban_sim 情景推演", "levers": "政策杠杆（0–1）", "budget": "各任务领域投资权重",
           "total": "年度投资（百万元）", "unc": "不确定性情景", "urb": "常住人口城镇化率",
           "took": "模型运行 {s:.2f} 秒（抽样比例 {scale}）", "pop": "分区域常住人口",
           "jobs": "各任务领域带动就业（末年）", "card": "规划目标：本设置与基准情景",
           "full": "运行完整集合（10 次重复，全规模）", "target": "目标", "this": "本设置",
           "base": "基准情景", "running": "运行中… {out}", "saved": "已保存：{out}"},
}


def current_settings() -> Settings:
    """Settings from the current values of the controls."""
    return Settings(scenario=SCENARIO, levers={k: r.value for k, r in levers.items()},
                    shares={a: r.value for a, r in shares.items()}, total_million_yuan=total.value,
                    uncertainty=uncertainty.value, scale=_START.scale)


def _figures(result, lang: str):
    labels, rc = _language(lang)
    code = "zh" if rc else "en"
    with matplotlib.rc_context(rc):
        pop = Figure(figsize=(5.5, 3.2), layout="constrained")
        ax = pop.add_subplot()
        p = result.population / 1000
        ax.stackplot(p.index, *(p[c] for c in ("county_seat", "towns", "villages")),
                     labels=[label(c, code) for c in ("county_seat", "towns", "villages")], alpha=0.8)
        ax.plot(p.index, p["outside"], "k--", label=label("outside", code))
        ax.legend(fontsize=7, loc="upper left", ncols=2)
        ax.set_title(_WORDS[code]["pop"] + (" (千人)" if code == "zh" else " (thousands)"), fontsize=10)
        urb = Figure(figsize=(5.5, 3.2), layout="constrained")
        ax = urb.add_subplot()
        ax.plot(result.urbanization.index, result.urbanization.to_numpy(), marker=".")
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        ax.set_title(_WORDS[code]["urb"], fontsize=10)
        jobs = Figure(figsize=(5.5, 3.2), layout="constrained")
        ax = jobs.add_subplot()
        ax.barh([label(a, code) for a in TASK_AREAS], result.jobs.to_numpy())
        ax.invert_yaxis()
        ax.set_title(_WORDS[code]["jobs"], fontsize=10)
    return pop, urb, jobs


def _scorecard_html(card, lang: str) -> str:
    w = _WORDS[lang]
    rows = []
    for r in card.to_dict("records"):
        def cell(v, met):
            colour = "#e3f4ef" if met else "#fbe9e4"
            return f'<td style="background:{colour}">{html.escape(fmt_value(r["indicator"], v, lang))}</td>'
        rows.append(f"<tr><td>{html.escape(label(r['indicator'], lang))} {r['year']}</td>"
                    f"<td>{html.escape(target_bound(r, lang))}</td>{cell(r['value'], r['met'])}"
                    f"{cell(r['baseline'], r['baseline_met'])}</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("", w["target"], w["this"], w["base"]))
    return (f'<table class="us-scorecard" style="font-size:12px;border-collapse:collapse" cellpadding="3">'
            f"<tr>{head}</tr>{''.join(rows)}</table>")


def _start_full(settings: Settings) -> None:
    out = Path("results") / f"dashboard_{settings.scenario}_{abs(hash(repr(settings))) % 10**8:08d}"
    full_status.value = _WORDS[LANG]["running"].format(out=out)

    def work():
        try:
            folder = run_full(settings, out, lang=LANG)
            full_status.value = _WORDS[LANG]["saved"].format(out=folder / "report.html")
        except Exception as exc:  # shown in the page; the server keeps running
            full_status.value = f"{type(exc).__name__}: {exc}"

    threading.Thread(target=work, daemon=True).start()


@solara.component
def Page():
    w = _WORDS[LANG]
    settings = current_settings()
    result = solara.use_memo(lambda: run_what_if(settings), dependencies=[repr(settings)])
    solara.Title(w["title"])
    with solara.Sidebar():
        solara.Select(w["unc"], value=uncertainty, values=list(UNCERTAINTY_SCENARIOS))
        solara.Markdown(UNCERTAINTY_LABELS[uncertainty.value][LANG == "zh"])
        solara.SliderFloat(w["total"], value=total, min=0, max=5000, step=50)
        solara.Markdown(f"**{w['levers']}**")
        for k, r in levers.items():
            solara.SliderFloat(LEVER_LABELS[k][LANG == "zh"], value=r, min=0, max=1, step=0.05)
        solara.Markdown(f"**{w['budget']}**")
        for a, r in shares.items():
            solara.SliderFloat(label(a, LANG), value=r, min=0, max=1, step=0.01)
        solara.Button(w["full"], on_click=lambda: _start_full(settings))
        solara.Markdown(full_status.value)
    solara.HTML(tag="div", unsafe_innerHTML=(
        f'<span style="font-size:1.4em">{html.escape(w["urb"])} <b class="us-urbanization">{result.final_urbanization:.2%}</b></span> '
        f'<span class="us-took">({html.escape(w["took"].format(s=result.seconds, scale=settings.scale))})</span>'))
    pop, urb, jobs = _figures(result, LANG)
    with solara.Columns([1, 1]):
        solara.FigureMatplotlib(pop, format="png")
        solara.FigureMatplotlib(urb, format="png")
    with solara.Columns([1, 1]):
        solara.FigureMatplotlib(jobs, format="png")
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>{html.escape(w['card'])}</b>"
                    + _scorecard_html(result.scorecard, LANG))
