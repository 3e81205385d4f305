"""What every command shares: the one error wrapper, scenario loading and the output folder.

No numerics here. Exit status: 0 success, 2 user error (one line on stderr naming file, key and
allowed range), 1 internal error, 3 a worker process died (finished runs are kept), 130
interrupted (finished runs are kept).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import yaml

from urban_sim.errors import ConfigError, ExperimentError, UrbanSimError, WorkerDied


class Outcome:
    """Holder a command fills in while it runs (the output folder, for messages on Ctrl-C)."""

    folder: Path | None = None


@contextlib.contextmanager
def user_errors() -> Iterator[Outcome]:
    """Turn a user error into one ``error:`` line and exit 2, a dead worker process into one
    line and exit 3, Ctrl-C into exit 130.

    The one place where exceptions become exit codes; every command body runs inside it.
    """
    outcome = Outcome()
    try:
        yield outcome
    except WorkerDied as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
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


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as dotted overrides; values read as YAML (0.7, true, [1, 2]).

    Raises
    ------
    ConfigError
        An item without ``=``, with an empty key, or a value that is not valid YAML.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. "
                              "--set policy.levers.land_reform=0.7")
        try:
            out[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: value {text!r} is not a valid YAML value") from None
    return out


def prepare(files: list[Path], lang: str, engine: str, scheduler: str | None,
            overrides: dict, sets: list[str] | None = None) -> list:
    """Check options, load scenarios (``--set`` then named options applied) and their data."""
    from urban_sim.config import load_scenario
    from urban_sim.model.county import check_scenario
    from urban_sim.population.kernels import uncached_kernels
    from urban_sim.runs.executors import check_engine

    check_lang(lang)
    check_engine(engine, scheduler)
    over = parse_sets(sets) | {k: v for k, v in overrides.items() if v is not None}
    scenarios = [load_scenario(f, over) for f in files]
    for sc in scenarios:
        check_scenario(sc)
    notice = compile_notice(uncached_kernels())  # check_scenario imported the model's kernels
    if notice:
        typer.echo(notice, err=True)
    return scenarios


COMPILE_NOTICE_MIN = 10
"""Uncached kernels from which the CLI announces compilation. Some kernels serve rare paths
(large batches, other bit generators, tests) and stay uncached after the first run; a few of
them cost a second or two if a run needs them, not worth a notice at every run."""


def compile_notice(missing: list[str]) -> str | None:
    """The notice for ``missing`` uncached kernels (:func:`~urban_sim.population.kernels.
    uncached_kernels`): None below :data:`COMPILE_NOTICE_MIN`, else the count and the time at
    ≈ 0.5 s a kernel (76 kernels took ≈ 35 s on 2 cores, docs/performance.md)."""
    if len(missing) < COMPILE_NOTICE_MIN:
        return None
    return (f"first run after installing: compiling up to {len(missing)} numerical kernels of the "
            f"model (numba, about {max(10, round(len(missing) * 0.5, -1)):.0f} s, once; later "
            "runs load them from the cache)")


SETTINGS_FILE = "settings.json"
"""Written first into every output folder: the command and the settings its results belong to."""


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return {prefix: value}


def out_dir(folder: Path, fresh: bool, command: str, settings: dict[str, Any]) -> Path:
    """Create or reuse the output folder; never mix results of different settings.

    ``settings`` (JSON-able) is everything the folder's results depend on except the number of
    replicates (replicate k's seed does not depend on it, so more replicates extend a folder).
    A folder holding results of other settings, or results without a settings record, is an
    error naming ``--fresh``; with ``fresh`` its finished and failed runs are discarded.

    Raises
    ------
    ExperimentError
        ``folder`` is a file, cannot be created, or holds results of other settings.
    """
    from urban_sim.files import prepare_out_dir, write_text

    record = {"command": command, "settings": settings}
    text = json.dumps(record, indent=1, sort_keys=True, default=str)
    path = Path(folder) / SETTINGS_FILE
    if not fresh and Path(folder).is_dir():
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        has_results = any((Path(folder) / n).exists()
                          for n in ("runs", "manifest.json", "sample.json", "params.csv"))
        if old is None and has_results:
            raise ExperimentError(
                f"--out {folder}: holds results without a {SETTINGS_FILE} record; add --fresh "
                "to replace them, or choose another --out")
        if old is not None and json.loads(text) != old:
            new, was = _flat(json.loads(text)["settings"]), _flat(old.get("settings", old))
            diff = sorted(k for k in new.keys() | was.keys() if new.get(k) != was.get(k))
            shown = ", ".join(diff[:3]) + (f" and {len(diff) - 3} more" if len(diff) > 3 else "")
            raise ExperimentError(
                f"--out {folder}: holds results of other settings (differing: {shown}); add "
                "--fresh to replace them, or choose another --out")
    prepare_out_dir(folder)
    if fresh:
        for sub in ("runs", "failed"):
            shutil.rmtree(Path(folder) / sub, ignore_errors=True)
    write_text(path, text)
    return Path(folder)


def report_failures(failures: list[dict], n_runs: int, folder: Path) -> None:
    """Say how many runs failed (with the first error); raise if none succeeded."""
    if not failures:
        return
    first = failures[0]["error"]
    if len(failures) >= n_runs:
        raise ExperimentError(f"no run succeeded; first error: {first} (details in {folder / 'failed'})")
    typer.echo(f"{len(failures)} of {n_runs} runs failed (first error: {first}); "
               f"details in {folder / 'failed'}", err=True)
