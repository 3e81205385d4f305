"""``urban-sim sensitivity``: global sensitivity analysis of an experiment file. No numerics."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import check_lang, out_dir, user_errors
from urban_sim.config.loader import SHIPPED_EXPERIMENTS, shipped_or_path
from urban_sim.errors import UrbanSimError


def sensitivity(
    experiment: Annotated[Path, typer.Argument(
        help="Experiment file (YAML or TOML) or a shipped experiment's name.")],
    out: o.Out = None,
    workers: o.Workers = None,
    engine: o.Engine = "processes",
    scheduler: o.Scheduler = None,
    seed: o.Seed = None,
    scale: o.Scale = None,
    start_year: o.StartYear = None,
    end_year: o.EndYear = None,
    fresh: o.Fresh = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the number of runs and an estimated time; run nothing.")] = False,
    second_order: Annotated[bool | None, typer.Option(
        "--second-order/--no-second-order",
        help="Override the experiment's second_order (must match a reused sample).")] = None,
    reuse: Annotated[bool, typer.Option(
        "--reuse", help="Re-analyse the sample and runs already in --out; run nothing.")] = False,
    lang: o.Lang = "en",
) -> None:
    """Global sensitivity analysis (Sobol or Morris, SALib) of an experiment file.

    --seed, --scale, --start-year and --end-year override the experiment file's values.
    """
    from urban_sim.analysis import sensitivity as sa
    from urban_sim.config.experiment import load_experiment
    from urban_sim.reports.sensitivity import write_report
    from urban_sim.runs.executors import check_engine, make_executor

    def show(w, *_args, **_kw) -> None:
        typer.echo(f"warning: {w}", err=True)

    n_workers = workers or os.cpu_count() or 1
    experiment = shipped_or_path(experiment, SHIPPED_EXPERIMENTS)
    with user_errors() as state:
        check_engine(engine, scheduler)
        check_lang(lang)
        exp = load_experiment(experiment)
        given = {"seed": seed, "scale": scale, "start_year": start_year, "end_year": end_year}
        exp = exp.model_copy(update={k: v for k, v in given.items() if v is not None})
        folder = out or Path("results") / exp.name
        if exp.scenarios is not None:
            _levers(exp, folder, n_workers, engine, scheduler, dry_run, reuse, fresh, lang, state,
                    show)
            return
        if dry_run:
            typer.echo(sa.dry_run(exp, workers=n_workers, second_order=second_order))
            return
        with warnings.catch_warnings():
            warnings.simplefilter("always", sa.SensitivityWarning)
            warnings.showwarning = show
            if reuse:
                result = sa.reanalyse(folder, second_order=second_order)
            else:
                state.folder = out_dir(folder, fresh, "sensitivity",
                                       {"experiment": exp.model_dump(mode="json"),
                                        "second_order": second_order})
                parallel = exp.model == "county" and (n_workers > 1 or engine == "dask")
                kind = engine if parallel else "sequential"
                with make_executor(kind, workers=n_workers, scheduler=scheduler) as ex:
                    result = sa.run_sensitivity(exp, folder, executor=ex,
                                                second_order=second_order, progress=True)
            write_report(folder, exp, result)
    m = result.meta
    typer.echo(f"{exp.name}: {m['n_runs']} runs, {m['D']} factors, "
               f"{len(result.warnings)} warning(s) -> {folder / 'report.html'}")


def _levers(exp, folder: Path, n_workers: int, engine: str, scheduler, dry_run: bool, reuse: bool,
            fresh: bool, lang: str, state, show) -> None:
    """A lever analysis (experiment with ``scenarios``): run or reuse, then the report."""
    from urban_sim.analysis import sensitivity as sa
    from urban_sim.analysis.sensitivity.lever_workflow import (
        lever_dry_run, load_lever_study, run_lever_study,
    )
    from urban_sim.reports.lever_report import write_lever_report
    from urban_sim.runs.executors import make_executor

    if dry_run:
        typer.echo(lever_dry_run(exp, workers=n_workers))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("always", sa.SensitivityWarning)
        warnings.showwarning = show
        if reuse:
            saved, study = load_lever_study(folder)
            if saved.model_dump(exclude={"name", "description"}) != exp.model_dump(
                    exclude={"name", "description"}):
                raise UrbanSimError(f"--reuse: the study in {folder} was made with a different "
                                    "experiment (see its analysis.json); run without --reuse")
        else:
            state.folder = out_dir(folder, fresh, "sensitivity",
                                   {"experiment": exp.model_dump(mode="json")})
            kind = engine if (n_workers > 1 or engine == "dask") else "sequential"
            with make_executor(kind, workers=n_workers, scheduler=scheduler) as ex:
                study = run_lever_study(exp, folder, executor=ex, progress=True)
    write_lever_report(folder, exp, study, lang)
    m = study.meta
    typer.echo(f"{exp.name}: {m['n_runs_total']} real runs, {len(m['levers'])} levers, "
               f"{m['n_scenarios']} scenarios, {len(study.warnings)} warning(s) -> "
               f"{folder / 'lever_ranking.csv'}, {folder / 'report.html'}")
