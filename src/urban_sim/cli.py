"""Command line interface ``urban-sim`` (Typer). No numerics here.

Exit status: 0 success, 2 user error (one line on stderr naming file, key and allowed range),
1 internal error.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.errors import ExperimentError, UrbanSimError

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
    workers: Annotated[int | None, typer.Option(min=1, max=256,
                                                help="Worker processes (default one per core).")] = None,
    engine: Annotated[str, typer.Option(help="sequential, processes or dask.")] = "processes",
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default results/<scenario>).")] = None,
    lang: Annotated[str, typer.Option(help="Figure labels: en or zh.")] = "en",
    fresh: Annotated[bool, typer.Option("--fresh", help="Discard finished runs instead of resuming.")] = False,
) -> None:
    """Simulate one scenario and write its output folder.

    Finished runs are kept in OUT/runs/; running the same command again after an interruption
    resumes without redoing them.
    """
    from urban_sim.experiments.runner import run_scenario
    from urban_sim.reports.output import write_run_folder

    folder = None
    try:
        (sc,) = _prepare([scenario], lang, engine, scheduler,
                         {"seed": seed, "scale": scale, "start_year": start_year, "end_year": end_year})
        folder = _out_dir(out or Path("results") / sc.name, fresh)
        started = dt.datetime.now(dt.timezone.utc)
        typer.echo(f"running {sc.name}: {sc.start_year}->{sc.end_year}, scale {sc.scale}, "
                   f"{replicates} replicate(s)", err=True)
        result = run_scenario(sc, n_replicates=replicates, engine=engine, workers=workers,
                              scheduler=scheduler, store_dir=folder, progress=True)
        _report_failures(result.failures, replicates, folder)
        write_run_folder(folder, sc, result, started=started, lang=lang)
    except UrbanSimError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _interrupted(folder)
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


def _prepare(files: list[Path], lang: str, engine: str, scheduler: str | None,
             overrides: dict) -> list:
    """Check options, load scenarios (command-line overrides applied) and their data."""
    from urban_sim.config import load_scenario
    from urban_sim.experiments.executors import check_engine
    from urban_sim.model.county import check_scenario

    if lang not in ("en", "zh"):
        raise UrbanSimError(f"--lang {lang!r}: allowed values are 'en' and 'zh'")
    check_engine(engine, scheduler)
    scenarios = [load_scenario(f, overrides) for f in files]
    for sc in scenarios:
        check_scenario(sc)
    return scenarios


def _out_dir(folder: Path, fresh: bool) -> Path:
    from urban_sim.experiments.store import prepare_out_dir

    prepare_out_dir(folder)
    if fresh:
        for sub in ("runs", "failed"):
            shutil.rmtree(folder / sub, ignore_errors=True)
    return folder


def _interrupted(folder: Path | None) -> None:
    where = f" in {folder / 'runs'}" if folder else ""
    typer.echo(f"interrupted: finished runs are kept{where}; run the same command again to "
               "resume", err=True)
    raise typer.Exit(130)


def _report_failures(failures: list[dict], n_runs: int, folder: Path) -> None:
    """Say how many runs failed (with the first error); raise if none succeeded."""
    if not failures:
        return
    first = failures[0]["error"]
    if len(failures) >= n_runs:
        raise ExperimentError(f"no run succeeded; first error: {first} (details in {folder / 'failed'})")
    typer.echo(f"{len(failures)} of {n_runs} runs failed (first error: {first}); "
               f"details in {folder / 'failed'}", err=True)


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Two or more scenario files.")],
    baseline: Annotated[str | None, typer.Option(help="Reference scenario name (default: the first).")] = None,
    replicates: Annotated[int, typer.Option("--replicates", "-n", min=1, max=10_000)] = 10,
    seed: Annotated[int | None, typer.Option(min=0, help="Master seed (default: the first scenario's).")] = None,
    scale: Annotated[float | None, typer.Option(min=0.0001, max=1.0)] = None,
    start_year: Annotated[int | None, typer.Option()] = None,
    end_year: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Default one per core.")] = None,
    engine: Annotated[str, typer.Option(help="sequential, processes or dask.")] = "processes",
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default results/compare_<names>).")] = None,
    lang: Annotated[str, typer.Option(help="Report labels: en or zh.")] = "en",
    fresh: Annotated[bool, typer.Option("--fresh", help="Discard finished runs instead of resuming.")] = False,
) -> None:
    """Run several scenarios with paired replicates and write a comparison report.

    Replicate k of every scenario uses the same seed (common random numbers). Finished runs are
    kept in OUT/runs/; the same command after an interruption resumes without redoing them.
    """
    from urban_sim.experiments.ensemble import plan_runs, run_ensemble
    from urban_sim.experiments.executors import make_executor
    from urban_sim.experiments.store import ResultsStore
    from urban_sim.reports.output import write_compare_folder

    folder = None
    try:
        if len(scenarios) < 2:
            raise ExperimentError("compare needs at least two scenario files")
        scs = _prepare(scenarios, lang, engine, scheduler,
                       {"scale": scale, "start_year": start_year, "end_year": end_year})
        names = [s.name for s in scs]
        if len(set(names)) < len(names):
            raise ExperimentError(f"scenario names must differ, got {names}")
        base = baseline or names[0]
        if base not in names:
            raise ExperimentError(f"--baseline {base!r}: not one of the scenarios {names}")
        master = scs[0].seed if seed is None else seed
        folder = _out_dir(out or Path("results") / ("compare_" + "_".join(names)), fresh)
        started = dt.datetime.now(dt.timezone.utc)
        specs = plan_runs(scs, replicates, master)
        typer.echo(f"comparing {', '.join(names)}: {len(specs)} runs", err=True)
        with make_executor(engine, workers=workers, scheduler=scheduler) as ex:
            res = run_ensemble(specs, ResultsStore(folder), ex, progress=True)
        _report_failures(res.failures, len(specs), folder)
        write_compare_folder(folder, scs, res, base, master, started=started, lang=lang,
                             engine=engine)
    except UrbanSimError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _interrupted(folder)
    typer.echo(f"{len(specs) - res.n_failed} of {len(specs)} runs succeeded "
               f"({res.n_skipped} resumed); report: {folder / 'report.html'}")


@app.command()
def report(folder: Annotated[Path, typer.Argument(help="Output folder of run or compare.")],
           lang: Annotated[str, typer.Option(help="Labels: en or zh.")] = "en") -> None:
    """Rebuild the report of a finished output folder from its stored results."""
    from urban_sim.reports.output import rebuild_report

    try:
        if lang not in ("en", "zh"):
            raise UrbanSimError(f"--lang {lang!r}: allowed values are 'en' and 'zh'")
        path = rebuild_report(folder, lang=lang)
    except UrbanSimError as exc:
        _fail(exc)
    typer.echo(f"report: {path}")


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(
        help="Scenario files, experiment files (sensitivity, calibration) or data folders.")]) -> None:
    """Check files without running anything; every file is checked, each problem on its line."""
    from urban_sim.calibration.objective import load_experiment as load_calibration
    from urban_sim.config import load_scenario, read_mapping
    from urban_sim.config.experiment import load_experiment as load_sensitivity
    from urban_sim.data import load_county
    from urban_sim.model.county import check_scenario

    failed = 0
    for f in files:
        try:
            if f.is_dir():
                load_county(f)
                kind = "data folder"
            else:
                keys = read_mapping(f)
                if "factors" in keys:
                    load_sensitivity(f)
                    kind = "sensitivity experiment"
                elif "observations" in keys or keys.get("method") in ("msm", "abc"):
                    load_calibration(f)
                    kind = "calibration experiment"
                else:
                    check_scenario(load_scenario(f))
                    kind = "scenario"
            typer.echo(f"{f}: {kind} OK")
        except UrbanSimError as exc:
            failed += 1
            typer.echo(f"error: {exc}", err=True)
    if failed:
        raise typer.Exit(2)


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
