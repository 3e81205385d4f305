"""``urban-sim report DIR``: rebuild the report of a finished output folder of any kind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import check_lang, user_errors
from urban_sim.errors import ExperimentError


def report(folder: Annotated[Path, typer.Argument(
        help="Output folder of run, compare, sensitivity or calibrate.")],
           lang: o.Lang = "en") -> None:
    """Rebuild the report of a finished output folder from its stored results."""
    with user_errors():
        check_lang(lang)
        if not folder.is_dir():
            raise ExperimentError(f"{folder}: no such folder" if not folder.exists()
                                  else f"{folder}: is a file, not an output folder")
        if (folder / "sample.json").is_file() or (folder / "lever_ranking.csv").is_file():
            from urban_sim.reports.sensitivity import rebuild_sensitivity_report

            path = rebuild_sensitivity_report(folder, lang)
        elif (folder / "params.csv").is_file() and (folder / "fit.csv").is_file():
            from urban_sim.reports.calibration import write_report

            path = write_report(folder, lang=lang)
        else:
            from urban_sim.reports.output import rebuild_report

            path = rebuild_report(folder, lang=lang)
    typer.echo(f"report: {path}")
