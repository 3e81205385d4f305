"""Report of one simulated scenario (``urban-sim run``): ``report.html`` and ``report.md``.

Opens with the summary (what was run, the main findings generated from the numbers), the plan
targets in the plan's wording with value, interval and probability of meeting them, and what is
assumed; then key numbers, the four standard figures and run details, in English or Chinese.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from urban_sim.analysis.compare import scorecard
from urban_sim.model.outputs import label
from urban_sim.reports.figures import write_figures
from urban_sim.reports.html import Document
from urban_sim.reports.labels import fmt_value, text
from urban_sim.runs.runner import target_table
from urban_sim.reports.sections import (
    assumption_note, data_status_counts, findings, run_description, scorecard_table,
)

KEY_NUMBERS = (("resident_population", "county"), ("urban_population", "county"),
               ("urbanization_rate", "county"), ("resident_population", "county_seat"),
               ("resident_population", "towns"), ("resident_population", "villages"),
               ("resident_population", "outside"), ("jobs_nonfarm", "county"))
"""(output, place) rows of the key-numbers table: median over replicates, first and last year."""


def key_numbers(ts: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Medians across replicates of :data:`KEY_NUMBERS` in the first and last year, formatted."""
    first, last = int(ts["year"].min()), int(ts["year"].max())
    rows = []
    for ind, place in KEY_NUMBERS:
        sub = ts[(ts["indicator"] == ind) & (ts["place"] == place)]
        med = sub.groupby("year")["value"].median()
        name = label(ind, lang) + ("" if place == "county" else
                                   (f"（{label(place, lang)}）" if lang == "zh" else f" ({label(place, lang)})"))
        rows.append({text("indicator", lang): name,
                     str(first): fmt_value(ind, med.get(first), lang),
                     str(last): fmt_value(ind, med.get(last), lang)})
    return pd.DataFrame(rows)


def write_run_report(folder: str | Path, ts: pd.DataFrame, targets, manifest: dict, *,
                     lang: str = "en", plan: pd.DataFrame | None = None, data_dir=None) -> list[Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` of one scenario into ``folder``.

    Parameters
    ----------
    ts : pandas.DataFrame
        Long timeseries of one scenario, all replicates.
    targets : list of Target
        The plan's targets.
    manifest : dict
        Run manifest (``scenario``, ``scale``, ``start_year``, ``end_year``, ``n_replicates``).
    lang : {"en", "zh"}
    plan : pandas.DataFrame, optional
        ``plan_targets.csv`` rows (wording and flags).
    data_dir : path, optional
        County data folder (for the count of assumed inputs).

    Returns
    -------
    list of pathlib.Path
    """
    folder = Path(folder)
    t = lambda k: text(k, lang)  # noqa: E731
    name = str(manifest.get("scenario") or ts["scenario"].iloc[0])
    card = scorecard(ts, targets)
    doc = Document(f"{t('run_title')}：{name}" if lang == "zh" else f"{t('run_title')}: {name}", lang=lang)
    doc.heading(t("summary")).paragraph(run_description(manifest, [name], None, lang), css="summary")
    doc.paragraph(("" if lang == "zh" else " ").join(findings(ts, card, name, lang, draws=manifest.get("n_parameter_draws") or 0)), css="summary")
    doc.heading(t("scorecard")).paragraph(t("scorecard_note"), css="note")
    doc.table(scorecard_table(card, plan, lang))
    doc.heading(t("assumptions")).bullets(assumption_note(data_status_counts(data_dir), manifest, lang),
                                          css="note")
    doc.heading(t("key")).table(key_numbers(ts, lang))
    doc.heading(t("figures"))
    for path in write_figures(ts, target_table(targets, ts), folder, lang=lang):
        doc.figure(path.stem, path.read_bytes(), path.stem)
    meta = [f"{k}: {v}" for k, v in manifest.items() if not isinstance(v, (list, dict))]
    doc.heading(t("runs")).bullets(meta, css="note")
    return doc.write(folder)


__all__ = ["KEY_NUMBERS", "key_numbers", "write_run_report"]
