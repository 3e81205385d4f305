"""What every command shares: the one error wrapper, scenario loading and the output folder.

No numerics here. Exit status: 0 success, 2 user error (one line on stderr naming file, key and
allowed range), 1 internal error, 130 interrupted (finished runs are kept).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import typer

from urban_sim.errors import ExperimentError, UrbanSimError


class Outcome:
    """Holder a command fills in while it runs (the output folder, for messages on Ctrl-C)."""

    folder: Path | None = None


@contextlib.contextmanager
def user_errors() -> Iterator[Outcome]:
    """Turn a user error into one ``error:`` line and exit 2, Ctrl-C into exit 130.

    The one place where exceptions become exit codes; every command body runs inside it.
    """
    outcome = Outcome()
    try:
        yield outcome
    except UrbanSimError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        where = f" in {outcome.folder / 'runs'}" if outcome.folder else ""
        typer.echo(f"interrupted: finished runs are kept{where}; run the same command again to "
                   "resume", err=True)
        raise typer.Exit(130) from None


def check_lang(lang: str) -> None:
    if lang not in ("en", "zh"):
        raise UrbanSimError(f"--lang {lang!r}: allowed values are 'en' and 'zh'")


def prepare(files: list[Path], lang: str, engine: str, scheduler: str | None,
            overrides: dict) -> list:
    """Check options, load scenarios (command-line overrides applied) and their data."""
    from urban_sim.config import load_scenario
    from urban_sim.model.county import check_scenario
    from urban_sim.runs.executors import check_engine

    check_lang(lang)
    check_engine(engine, scheduler)
    scenarios = [load_scenario(f, overrides) for f in files]
    for sc in scenarios:
        check_scenario(sc)
    return scenarios


def out_dir(folder: Path, fresh: bool) -> Path:
    """Create the output folder; with ``fresh`` discard finished and failed runs."""
    from urban_sim.files import prepare_out_dir

    prepare_out_dir(folder)
    if fresh:
        for sub in ("runs", "failed"):
            shutil.rmtree(folder / sub, ignore_errors=True)
    return folder


def report_failures(failures: list[dict], n_runs: int, folder: Path) -> None:
    """Say how many runs failed (with the first error); raise if none succeeded."""
    if not failures:
        return
    first = failures[0]["error"]
    if len(failures) >= n_runs:
        raise ExperimentError(f"no run succeeded; first error: {first} (details in {folder / 'failed'})")
    typer.echo(f"{len(failures)} of {n_runs} runs failed (first error: {first}); "
               f"details in {folder / 'failed'}", err=True)
