"""``urban-sim sensitivity``: global sensitivity analysis of an experiment file. No numerics."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import user_errors
from urban_sim.config.loader import SHIPPED_EXPERIMENTS, shipped_or_path
from urban_sim.errors import UrbanSimError


def sensitivity(
    experiment: Annotated[Path, typer.Argument(
        help="Experiment file (YAML or TOML) or a shipped experiment's name.")],
    out: o.Out = None,
    workers: o.Workers = None,
    engine: Annotated[str, typer.Option(help="local (processes on this machine) or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (implies --engine dask).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the number of runs and an estimated time; run nothing.")] = False,
    second_order: Annotated[bool | None, typer.Option(
        "--second-order/--no-second-order",
        help="Override the experiment's second_order (must match a reused sample).")] = None,
    reuse: Annotated[bool, typer.Option(
        "--reuse", help="Re-analyse the sample and runs already in --out; run nothing.")] = False,
) -> None:
    """Global sensitivity analysis (Sobol or Morris, SALib) of an experiment file."""
    from urban_sim.analysis import sensitivity as sa
    from urban_sim.config.experiment import load_experiment
    from urban_sim.files import prepare_out_dir
    from urban_sim.runs.executors import make_executor

    def show(w, *_args, **_kw) -> None:
        typer.echo(f"warning: {w}", err=True)

    n_workers = workers or os.cpu_count() or 1
    experiment = shipped_or_path(experiment, SHIPPED_EXPERIMENTS)
    with user_errors() as state:
        if engine not in ("local", "dask"):
            raise UrbanSimError(f"--engine {engine!r}: allowed values are 'local' and 'dask'")
        if scheduler and engine != "dask":
            raise UrbanSimError(f"--scheduler needs --engine dask (got --engine {engine})")
        exp = load_experiment(experiment)
        folder = out or Path("results") / exp.name
        if dry_run:
            typer.echo(sa.dry_run(exp, workers=n_workers, second_order=second_order))
            return
        with warnings.catch_warnings():
            warnings.simplefilter("always", sa.SensitivityWarning)
            warnings.showwarning = show
            if reuse:
                result = sa.reanalyse(folder, second_order=second_order)
            else:
                state.folder = prepare_out_dir(folder)
                kind = "dask" if engine == "dask" else (
                    "sequential" if n_workers == 1 or exp.model != "county" else "processes")
                with make_executor(kind, workers=n_workers, scheduler=scheduler) as ex:
                    result = sa.run_sensitivity(exp, folder, executor=ex,
                                                second_order=second_order, progress=True)
    m = result.meta
    typer.echo(f"{exp.name}: {m['n_runs']} runs, {m['D']} factors, "
               f"{len(result.warnings)} warning(s) -> {folder / 'report.html'}")
