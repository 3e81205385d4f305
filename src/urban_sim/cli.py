"""Command line interface ``urban-sim`` (Typer). No numerics here.

Exit status: 0 success, 2 user error (one line on stderr naming file, key and allowed range),
1 internal error.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.errors import UrbanSimError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Scenario simulation of county urbanization (Lin County reference case).")


def _fail(exc: UrbanSimError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    replicates: Annotated[int, typer.Option("--replicates", "-n", min=1, max=10_000,
                                            help="Replicates (seeds spawned from --seed).")] = 1,
    seed: Annotated[int | None, typer.Option(min=0, help="Master seed (default: the scenario's).")] = None,
    scale: Annotated[float | None, typer.Option(min=0.0001, max=1.0,
                                                help="Fraction of the population simulated.")] = None,
    start_year: Annotated[int | None, typer.Option(help="2010 or 2020 (census years).")] = None,
    end_year: Annotated[int | None, typer.Option(help="Last simulated year.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Worker processes.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Output folder (default results/<scenario>).")] = None,
    lang: Annotated[str, typer.Option(help="Figure labels: en or zh.")] = "en",
) -> None:
    """Simulate one scenario and write its output folder."""
    from urban_sim.config import load_scenario
    from urban_sim.experiments.runner import run_scenario
    from urban_sim.reports.output import write_run_folder

    try:
        if lang not in ("en", "zh"):
            raise UrbanSimError(f"--lang {lang!r}: allowed values are 'en' and 'zh'")
        sc = load_scenario(scenario, {"seed": seed, "scale": scale, "start_year": start_year,
                                      "end_year": end_year})
        started = dt.datetime.now(dt.timezone.utc)
        typer.echo(f"running {sc.name}: {sc.start_year}->{sc.end_year}, scale {sc.scale}, "
                   f"{replicates} replicate(s)", err=True)
        result = run_scenario(sc, n_replicates=replicates, workers=workers, progress=True)
        folder = write_run_folder(out or Path("results") / sc.name, sc, result, started=started, lang=lang)
    except UrbanSimError as exc:
        _fail(exc)
    county = result.timeseries.query("place == 'county' and replicate == 0")
    last = county[county["year"] == sc.end_year].set_index("indicator")["value"]
    met = result.targets["met"].astype("boolean").sum()
    typer.echo(
        f"{sc.name}: {sc.end_year} residents {last['resident_population']:,.0f}, urbanization "
        f"{last['urbanization_rate']:.1%}; targets met {met}/{len(result.targets)}; "
        f"{result.wall_seconds:.1f} s -> {folder}"
    )


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario files or data folders.")]) -> None:
    """Check scenario files (and data folders) without running anything."""
    from urban_sim.config import load_scenario
    from urban_sim.data import load_county
    from urban_sim.model.county import check_scenario

    try:
        for f in files:
            if f.is_dir():
                load_county(f)
                typer.echo(f"{f}: data folder OK")
            else:
                check_scenario(load_scenario(f))
                typer.echo(f"{f}: scenario OK")
    except UrbanSimError as exc:
        _fail(exc)


def _register_commands() -> None:
    """Commands defined next to their analysis code register themselves here."""
    from urban_sim.analysis import sensitivity_cli
    from urban_sim.calibration import cli as calibration_cli

    sensitivity_cli.register(app)
    calibration_cli.register(app)


_register_commands()


def main() -> None:
    """Entry point of the ``urban-sim`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
