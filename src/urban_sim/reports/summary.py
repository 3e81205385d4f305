"""Markdown summary of one simulated scenario."""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.files import write_text
from urban_sim.reports.html import md_cell, md_text

from .figures import _by_year

# label, candidate (indicator, place) pairs (first with data wins), format
KEY_NUMBERS = [
    ("Resident population", [("resident_population", "county")], "{:,.0f}"),
    ("Urban population", [("urban_population", "county")], "{:,.0f}"),
    ("Urbanization rate", [("urbanization_rate", "county")], "{:.2%}"),
    ("County-seat population", [("resident_population", "county_seat"),
                                ("county_seat_population", "county")], "{:,.0f}"),
    ("Outside population", [("resident_population", "outside"),
                            ("outside_population", "county")], "{:,.0f}"),
    ("Jobs total", [("jobs_total", "county")], "{:,.0f}"),
]


def _fmt(x, spec: str | None = None) -> str:
    if x is None or pd.isna(x):
        return "n/a"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if not isinstance(x, numbers.Real):  # text, lists, mappings: shown as they are
        return str(x)
    if spec:
        return spec.format(x)
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(map(md_cell, header)) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(map(md_cell, r)) + " |" for r in rows)]


def write_summary(ts: pd.DataFrame, targets: pd.DataFrame, manifest: dict,
                  out_path: str | Path, *, figure_paths=()) -> Path:
    """Write a Markdown summary (key numbers, target table, figure links) atomically.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long-format timeseries (``scenario, replicate, year, place, indicator, value``).
        Key numbers are medians across replicates for the first and last year.
    targets : pandas.DataFrame
        Columns ``indicator, year, operator, target, target_high, value, met``
        (and optionally ``p_met``, shown when present).
    manifest : dict
        Run manifest; ``manifest["scenario"]`` (a name, or a dict with ``name``)
        names the scenario, falling back to the scenarios in `ts`. Other scalar
        entries are listed under "Run".
    out_path : str or pathlib.Path
        Markdown file to write (UTF-8; parent directories are created).
    figure_paths : iterable of path-like, optional
        Figures to link, relative to the summary's directory.

    Returns
    -------
    pathlib.Path
        `out_path`.
    """
    out_path = Path(out_path)
    scenario = manifest.get("scenario")
    if isinstance(scenario, dict):
        scenario = scenario.get("name")
    if scenario is not None and (ts["scenario"] == scenario).any():
        ts = ts[ts["scenario"] == scenario]
    scenario = scenario or ", ".join(map(str, ts["scenario"].unique()))

    lines = [f"# Scenario summary: {md_text(scenario)}", ""]
    run = {k: v for k, v in manifest.items() if k != "scenario" and pd.api.types.is_scalar(v)}
    if run:
        lines += ["## Run", "", *(f"- {md_text(k)}: {md_cell(v)}" for k, v in run.items()), ""]

    years = sorted(ts["year"].dropna().unique())
    first, last = (years[0], years[-1]) if years else (None, None)
    n_rep = ts["replicate"].nunique()
    rows = []
    for label, candidates, spec in KEY_NUMBERS:
        series = pd.Series(dtype=float)
        for indicator, place in candidates:
            series = _by_year(ts, indicator, place)
            if not series.empty:
                break
        rows.append([label, *(_fmt(series.get(y), spec) for y in (first, last))])
    lines += ["## Key numbers", ""]
    if n_rep > 1:
        lines += [f"Medians across {n_rep} replicates.", ""]
    lines += [*_table(["", str(first), str(last)], rows), ""]

    cols = ["indicator", "year", "operator", "target", "value", "met"]
    cols += ["p_met"] if "p_met" in targets else []
    target_rows = []
    for t in targets.to_dict("records"):
        bound = _fmt(t["target"])
        if t["operator"] == "between":
            bound += f" – {_fmt(t.get('target_high'))}"
        target_rows.append([str(t["indicator"]), str(t["year"]), t["operator"], bound,
                            *(_fmt(t[c]) for c in cols[4:])])
    lines += ["## Plan targets", "", *_table(cols, target_rows), ""]

    if figure_paths:
        lines += ["## Figures", ""]
        for p in map(Path, figure_paths):
            rel = Path(os.path.relpath(p, out_path.parent)).as_posix()
            lines += [f"![{p.stem}]({rel})", ""]

    return write_text(out_path, "\n".join(lines))
