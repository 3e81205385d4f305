"""Command line interface ``urban-sim`` (Typer): one module per command, registered here.

No numerics in this package. Shared options are in :mod:`urban_sim.cli.options`, the one error
wrapper in :mod:`urban_sim.cli.common`. Exit status: 0 success, 2 user error, 1 internal error,
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from urban_sim.cli import calibrate, compare, dashboard, report, run, sensitivity, validate

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Scenario simulation of county urbanization (Lin County reference case).")


def _version(value: bool) -> None:
    if value:
        from urban_sim import __version__

        typer.echo(f"urban-sim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Scenario simulation of county urbanization (Lin County reference case)."""

for _command in (run.run, compare.compare, sensitivity.sensitivity, calibrate.calibrate,
                 report.report, validate.validate, dashboard.dashboard):
    app.command()(_command)


def main() -> None:
    """Entry point of the ``urban-sim`` console script and of ``python -m urban_sim``."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


__all__ = ["app", "main"]
