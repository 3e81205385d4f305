"""Report of a sensitivity analysis: figures and a self-contained HTML page."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from urban_sim.analysis.sensitivity.indices import SensitivityResult
from urban_sim.config.experiment import Experiment

def _label(name: str) -> str:
    """Short display label of a dotted factor path (its last two parts)."""
    return ".".join(name.split(".")[-2:])


def target_outputs(result: SensitivityResult, year: int | None = None) -> list[str]:
    """Outputs that are plan-target values (from the declared outputs in ``result.meta``),
    optionally of one year."""
    return [o["name"] for o in result.meta.get("outputs", [])
            if o["stat"] == "value" and o["is_target"] and (year is None or o["year"] == year)]


def _key_outputs(result: SensitivityResult, outputs: list[str]) -> list[str]:
    keys = target_outputs(result)
    keys += [o["name"] for o in result.meta.get("outputs", []) if o["stat"] in ("score", "n_met")]
    return [k for k in keys if k in outputs] or list(outputs)


def _varying(table: pd.DataFrame, outputs: list[str]) -> list[str]:
    """Outputs that vary over the design (rows not all flagged ``output constant``)."""
    const = set(table.loc[table["flag"] == "output constant", "output"])
    return [o for o in outputs if o not in const]


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def report_figures(exp: Experiment, result: SensitivityResult) -> dict[str, bytes]:
    """PNG figures: a heat map of ST (or normalised Morris mu_star), factors x target outputs,
    and a bar chart of the composite score's indices with their intervals.

    Negative estimates are drawn as 0 (clipped for drawing only; the CSV keeps raw values).
    """
    from matplotlib.figure import Figure

    if result.indices is not None:
        table, value, conf, title = result.indices, "ST", "ST_conf", "total-order index ST"
    else:
        table, value, conf, title = result.morris, "mu_star", "mu_star_conf", "Morris mu_star"
    table = table[table["kind"] == "factor"] if (table["kind"] == "factor").any() else table
    outputs = list(dict.fromkeys(table["output"]))
    keys = _varying(table, _key_outputs(result, outputs)) or _key_outputs(result, outputs)
    factors = list(dict.fromkeys(table["factor"]))
    heat = table.pivot(index="factor", columns="output", values=value).loc[factors, keys]
    if value == "mu_star":
        heat = heat / heat.max(axis=0).replace(0, 1)
        title += " (scaled to the largest per output)"
    figs: dict[str, bytes] = {}
    fig = Figure(figsize=(max(5.0, 0.32 * len(keys) + 3.5), max(3.0, 0.32 * len(factors) + 1.8)))
    ax = fig.add_subplot()
    im = ax.imshow(heat.clip(0, 1).to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(factors)), [_label(f) for f in factors], fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label=f"{value} (clipped to [0, 1] for drawing)")
    figs["ranking_heatmap"] = _png(fig)

    comp = "attainment_score" if "attainment_score" in outputs else outputs[0]
    sub = table[table["output"] == comp].set_index("factor").loc[factors]
    fig = Figure(figsize=(max(5.0, 0.45 * len(factors) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(factors))
    bars = [("S1", "S1_conf"), ("ST", "ST_conf")] if value == "ST" else [(value, conf)]
    width = 0.8 / len(bars)
    for k, (v, c) in enumerate(bars):
        h = sub[v].clip(lower=0).to_numpy(float)
        lo = np.minimum(sub[c].to_numpy(float), h)  # an interval never reaches below 0 here
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, h, width, yerr=[lo, sub[c].to_numpy(float)],
               capsize=2, label=v)
    ax.set_xticks(x, [_label(f) for f in factors], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("index (95 % CI; negatives drawn as 0)")
    ax.set_title(f"{comp}: {title}", fontsize=9)
    ax.legend(fontsize=7)
    figs["composite_bars"] = _png(fig)
    return figs


def _top_rows(table: pd.DataFrame, outputs: list[str], value: str, conf: str,
              kind: str | None, n: int = 3) -> list[list[str]]:
    rows = []
    for o in outputs:
        sub = table[table["output"] == o]
        if kind:
            sub = sub[sub["factor_kind"] == kind]
        if sub.empty:
            continue
        if (sub["flag"] == "output constant").all():
            continue  # listed once under "outputs that do not vary"
        top = sub.sort_values(value, ascending=False).head(n)
        cells = [f"{_label(r.factor)}: {getattr(r, value):.3f} "
                 f"[{getattr(r, value) - getattr(r, conf):.3f}, {getattr(r, value) + getattr(r, conf):.3f}]"
                 + (" *" if _spans_zero(r, value) else "")
                 for r in top.itertuples()]
        rows.append([o, "; ".join(cells)])
    return rows


def _spans_zero(row, value: str) -> bool:
    """Whether the flag says the interval of ``value`` (ST, S1 or mu_star) includes 0."""
    flags = [f.strip() for f in str(row.flag).split(";")]
    want = "not distinguishable from 0" if value == "mu_star" else f"{value} not distinguishable from 0"
    return want in flags


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    import html

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def report_html(exp: Experiment, result: SensitivityResult, figures: dict[str, bytes]) -> str:
    """Self-contained HTML report (figures embedded as base64 PNG).

    For every 2027 (and 2025) target: the levers with the largest total index (Sobol ST) or
    mu_star (Morris), with 95 % intervals; fixed factors; warnings; seed-noise shares;
    metadata.
    """
    import base64
    import html

    m = result.meta
    sobol = result.indices is not None
    table = result.indices if sobol else result.morris
    value, conf = ("ST", "ST_conf") if sobol else ("mu_star", "mu_star_conf")
    factors = table[table["kind"] == "factor"]
    outputs = list(dict.fromkeys(table["output"]))
    declared = {o["name"]: o for o in m.get("outputs", [])}
    constant = [o for o in outputs if o not in _varying(table, outputs)]
    parts = [f"<h1>Sensitivity analysis: {html.escape(exp.name)}</h1>",
             f"<p>{html.escape(exp.description)}</p>"]
    meta_rows = [["model", exp.model], ["scenario", exp.scenario or "-"], ["method", exp.method],
                 ["N" if sobol else "trajectories", exp.N if sobol else exp.morris.trajectories],
                 ["varied factors D", m["D"]], ["second order", m["second_order"]],
                 ["grouped", bool(m.get("groups"))], ["replicates per point", m["replicates"]],
                 ["design points", m["n_points"]], ["model runs", m["n_runs"]],
                 ["seed", m["seed"]], ["scale", exp.scale or "scenario's"],
                 ["years", f"{exp.start_year or 'scenario'} -> {exp.end_year or 'scenario'}"],
                 ["nan_policy", m["nan_policy"]], ["wall seconds", m.get("wall_seconds", "-")]]
    parts += ["<h2>Metadata</h2>", _html_table(["item", "value"], meta_rows)]
    parts.append("<h2>Warnings</h2>")
    parts.append("<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings) + "</ul>"
                 if result.warnings else "<p>none</p>")
    if exp.fixed:
        parts += ["<h2>Fixed factors (empty range, not sampled)</h2>",
                  "<ul>" + "".join(f"<li>{html.escape(k)} fixed = {v:g}</li>"
                                   for k, v in exp.fixed.items()) + "</ul>"]
    what = "total-order index ST" if sobol else "Morris mu_star"
    note = ("Values are estimate [95 % interval]; * = interval includes 0 "
            "(not distinguishable from 0).")
    for year in (2027, 2025):
        targets = _varying(table, target_outputs(result, year))
        if targets:
            parts += [f"<h2>{year} targets: levers with the largest {what}</h2><p>{note}</p>",
                      _html_table(["target output", "top levers"],
                                  _top_rows(factors, targets, value, conf, "lever")),
                      f"<h3>{year} targets: largest uncertainties</h3>",
                      _html_table(["target output", "top uncertainties"],
                                  _top_rows(factors, targets, value, conf, "uncertainty"))]
    others = _varying(table, [o for o in outputs if o not in target_outputs(result)
                              and declared.get(o, {}).get("stat", "value") not in ("met", "shortfall")])
    if others:
        parts += [f"<h2>Composite score, headline and other outputs: largest {what}</h2><p>{note}</p>",
                  _html_table(["output", "top factors"],
                              _top_rows(factors, others, value, conf, None, 5))]
    if constant:
        parts += ["<h2>Outputs that do not vary over the design (not ranked)</h2>",
                  f"<p>{html.escape(', '.join(constant))}</p>"]
    groups = table[table["kind"] == "group"]
    if len(groups):
        keys = _varying(table, _key_outputs(result, outputs))
        parts += [f"<h2>Groups (task areas): largest {what}</h2>",
                  _html_table(["output", "top groups"], _top_rows(groups, keys, value, conf, None))]
    if len(result.noise):
        nz = result.noise.sort_values("seed_noise_share", ascending=False)
        nz = nz[nz["output"].isin(_varying(table, _key_outputs(result, outputs)) + others)]
        parts += ["<h2>Seed noise</h2><p>Share of each output's run-to-run variance that is due "
                  "to the random seed (mean within-point variance over replicates / total "
                  "variance); the indices use the replicate means.</p>",
                  _html_table(["output", "seed noise share"],
                              [[r.output, f"{r.seed_noise_share:.3f}"] for r in nz.itertuples()])]
    else:
        parts.append("<h2>Seed noise</h2><p>Not estimated (one replicate per design point or a "
                     "deterministic model).</p>")
    if result.convergence is not None and len(result.convergence):
        worst = result.convergence.groupby("output")["abs_change"].max().sort_values(ascending=False)
        parts += [f"<h2>Convergence (ST at N/2 vs N)</h2><p>Largest change per output; tolerance "
                  f"{exp.convergence_tolerance}.</p>",
                  _html_table(["output", "max |ST(N) - ST(N/2)|"],
                              [[o, f"{v:.3f}"] for o, v in worst.head(15).items()])]
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<h2>{html.escape(name)}</h2><img alt="{name}" src="data:image/png;base64,{data}">')
    parts.append("<p>Files: sample.parquet, sample.json, runs.parquet, "
                 + ("indices.csv, convergence.csv" if sobol else "morris.csv")
                 + ", noise.csv, analysis.json, figures/.</p>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:left}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(exp.name)}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(out, exp: Experiment, result: SensitivityResult) -> None:
    """Write ``figures/*.png`` and ``report.html`` of a finished analysis into ``out``."""
    from pathlib import Path

    from urban_sim.files import atomic_write, write_text

    out = Path(out)
    figures = report_figures(exp, result)
    for name, png in figures.items():
        atomic_write(out / "figures" / f"{name}.png", lambda p, b=png: p.write_bytes(b))
    write_text(out / "report.html", report_html(exp, result, figures))


def rebuild_sensitivity_report(folder, lang: str = "en"):
    """Rebuild the report of a sensitivity folder: a lever study (``lever_ranking.csv``) from its
    saved tables, a Sobol/Morris analysis (``sample.json``) by re-analysing its saved runs.
    Returns the path of ``report.html``."""
    import json
    from pathlib import Path

    from urban_sim.analysis.sensitivity import reanalyse

    folder = Path(folder)
    if (folder / "lever_ranking.csv").is_file():
        from urban_sim.analysis.sensitivity.lever_workflow import load_lever_study
        from urban_sim.reports.lever_report import write_lever_report

        exp, study = load_lever_study(folder)
        write_lever_report(folder, exp, study, lang)
        return folder / "report.html"
    result = reanalyse(folder)
    meta = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
    write_report(folder, Experiment.model_validate(meta["experiment_config"]), result)
    return folder / "report.html"
