"""``urban-sim compare``: paired scenario comparison with a report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import out_dir, prepare, report_failures, user_errors
from urban_sim.errors import ExperimentError


def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Two or more scenario files.")],
    baseline: Annotated[str | None, typer.Option(
        help="Reference scenario name (default: the first).")] = None,
    replicates: o.Replicates = 10,
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
    """Run several scenarios with paired replicates and write a comparison report.

    Replicate k of every scenario uses the same seed (common random numbers). Finished runs are
    kept in OUT/runs/; the same command after an interruption resumes without redoing them.
    """
    from urban_sim.reports.output import write_compare_folder
    from urban_sim.runs import plan_runs, run_many

    with user_errors() as state:
        if len(scenarios) < 2:
            raise ExperimentError("compare needs at least two scenario files")
        scs = prepare(scenarios, lang, engine, scheduler,
                      {"scale": scale, "start_year": start_year, "end_year": end_year}, set_)
        names = [s.name for s in scs]
        if len(set(names)) < len(names):
            raise ExperimentError(f"scenario names must differ, got {names}")
        base = baseline or names[0]
        if base not in names:
            raise ExperimentError(f"--baseline {base!r}: not one of the scenarios {names}")
        spans = {f"{s.name} {s.start_year}-{s.end_year}" for s in scs}
        if len({(s.start_year, s.end_year) for s in scs}) > 1:
            raise ExperimentError(
                f"scenarios cover different horizons ({', '.join(sorted(spans))}); paired "
                "differences and cumulative measures need one span: give --start-year and "
                "--end-year to compare them on a common one")
        master = scs[0].seed if seed is None else seed
        folder = state.folder = out_dir(
            out or Path("results") / ("compare_" + "_".join(names)), fresh, "compare",
            {"scenarios": [s.model_dump(mode="json") for s in scs], "seed": master})
        started = dt.datetime.now(dt.timezone.utc)
        specs = plan_runs(scs, replicates, master)
        typer.echo(f"comparing {', '.join(names)}: {len(specs)} runs", err=True)
        res = run_many(specs, store_dir=folder, engine=engine, workers=workers,
                       scheduler=scheduler, progress=True)
        report_failures(res.failures, len(specs), folder)
        write_compare_folder(folder, scs, res, base, master, started=started, lang=lang,
                             engine=engine)
    typer.echo(f"{len(specs) - res.n_failed} of {len(specs)} runs succeeded "
               f"({res.n_skipped} resumed); report: {folder / 'report.html'}")
