"""``urban-sim report DIR``: rebuild the report of a finished output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import check_lang, user_errors
from urban_sim.errors import ExperimentError


def report(folder: Annotated[Path, typer.Argument(help="Output folder of run or compare.")],
           lang: o.Lang = "en") -> None:
    """Rebuild the report of a finished output folder from its stored results."""
    from urban_sim.reports.output import rebuild_report

    with user_errors():
        check_lang(lang)
        if not folder.is_dir():
            raise ExperimentError(f"{folder}: no such folder" if not folder.exists()
                                  else f"{folder}: is a file, not an output folder")
        path = rebuild_report(folder, lang=lang)
    typer.echo(f"report: {path}")
