"""``urban-sim sensitivity`` (registered on the main Typer app). No numerics here."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.errors import UrbanSimError


def register(app) -> None:
    """Add the ``sensitivity`` command to ``app``."""

    @app.command()
    def sensitivity(
        experiment: Annotated[Path, typer.Argument(help="Experiment file (YAML or TOML).")],
        out: Annotated[Path | None, typer.Option(
            help="Output folder (default results/<experiment name>).")] = None,
        workers: Annotated[int | None, typer.Option(
            min=1, max=256, help="Worker processes (default: one per core).")] = None,
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
        from urban_sim.experiments.executors import make_executor
        from urban_sim.experiments.store import prepare_out_dir

        def fail(exc: UrbanSimError) -> None:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)

        def show(w, *_args, **_kw) -> None:
            typer.echo(f"warning: {w}", err=True)

        n_workers = workers or os.cpu_count() or 1
        try:
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
                    prepare_out_dir(folder)
                    kind = "dask" if engine == "dask" else (
                        "sequential" if n_workers == 1 or exp.model != "county" else "processes")
                    with make_executor(kind, workers=n_workers, scheduler=scheduler) as ex:
                        result = sa.run_sensitivity(exp, folder, executor=ex,
                                                    second_order=second_order, progress=True)
        except UrbanSimError as exc:
            fail(exc)
        m = result.meta
        typer.echo(f"{exp.name}: {m['n_runs']} runs, {m['D']} factors, "
                   f"{len(result.warnings)} warning(s) -> {folder / 'report.html'}")
