"""``urban-sim run``: simulate one scenario and write its output folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import out_dir, prepare, report_failures, user_errors


def run(
    scenario: Annotated[Path, typer.Argument(
        help="Scenario file (YAML or TOML) or a shipped scenario's name (baseline, plan, ...).")],
    replicates: o.Replicates = 1,
    seed: o.Seed = None,
    scale: o.Scale = None,
    start_year: o.StartYear = None,
    end_year: o.EndYear = None,
    workers: o.Workers = None,
    engine: o.Engine = "processes",
    scheduler: o.Scheduler = None,
    out: o.Out = None,
    lang: o.Lang = "en",
    fresh: o.Fresh = False,
    set_: o.Set = None,
) -> None:
    """Simulate one scenario and write its output folder.

    Finished runs are kept in OUT/runs/; running the same command again after an interruption
    resumes without redoing them.
    """
    from urban_sim.reports.output import write_run_folder
    from urban_sim.runs.runner import run_scenario

    with user_errors() as state:
        (sc,) = prepare([scenario], lang, engine, scheduler,
                        {"seed": seed, "scale": scale, "start_year": start_year,
                         "end_year": end_year}, set_)
        folder = state.folder = out_dir(out or Path("results") / sc.name, fresh, "run",
                                        {"scenario": sc.model_dump(mode="json")})
        started = dt.datetime.now(dt.timezone.utc)
        typer.echo(f"running {sc.name}: {sc.start_year}->{sc.end_year}, scale {sc.scale}, "
                   f"{replicates} replicate(s)", err=True)
        result = run_scenario(sc, n_replicates=replicates, engine=engine, workers=workers,
                              scheduler=scheduler, store_dir=folder, progress=True)
        report_failures(result.failures, replicates, folder)
        write_run_folder(folder, sc, result, started=started, lang=lang)
    county = result.timeseries[result.timeseries["place"] == "county"]
    last = county[county["year"] == sc.end_year].groupby("indicator")["value"].median()
    known = result.targets["met"].notna().sum()
    met = result.targets["met"].astype("boolean").sum()
    what = "replicate 0" if replicates == 1 else f"median of {replicates} replicates"
    typer.echo(
        f"{sc.name}: {sc.end_year} residents {last['resident_population']:,.0f}, urbanization "
        f"{last['urbanization_rate']:.1%} ({what}); plan targets met: {met} of {known} "
        f"(replicate 0); {result.wall_seconds:.1f} s -> {folder}"
    )
