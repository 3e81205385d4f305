"""Atomic writes: a file is either absent or complete, never half written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    ``os.replace`` is atomic on POSIX and Windows within one file system, so readers see the
    old file or the new one, never a partial one. The temporary file is removed on error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_table(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write a table atomically as Parquet (``.parquet``) or UTF-8 CSV (``.csv``)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    return atomic_write(path, lambda p: frame.to_csv(p, index=False, encoding="utf-8"))


def prepare_out_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (and parents) or say clearly why it cannot be.

    Raises
    ------
    ExperimentError
        If ``path`` is an existing file or cannot be created (permissions, read-only place).
    """
    from urban_sim.errors import ExperimentError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ExperimentError(f"--out {path}: is a file, not a folder; choose another output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"--out {path}: cannot create the output folder ({exc.strerror})") from None
    return path


class ResultsStore:
    """Finished runs of an experiment, one Parquet file per run, keyed by run id.

    Layout under ``root``: ``runs/<run_id>.parquet`` (the run's long timeseries) and
    ``failed/<run_id>.json`` (parameters and traceback of a run that raised). Each file is
    written atomically as soon as its run ends, so an interrupted experiment loses at most the
    runs in flight; :meth:`done` tells which runs to skip on resume.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        (self.root / "failed").mkdir(parents=True, exist_ok=True)

    def path(self, run_id: str) -> Path:
        return self.root / "runs" / f"{run_id}.parquet"

    def done(self) -> set[str]:
        """Run ids with a finished result."""
        return {p.stem for p in (self.root / "runs").glob("*.parquet")}

    def save(self, run_id: str, frame: pd.DataFrame) -> None:
        """Store a finished run (atomically) and clear an earlier failure record."""
        write_table(self.path(run_id), frame)
        (self.root / "failed" / f"{run_id}.json").unlink(missing_ok=True)

    def save_failure(self, run_id: str, record: dict) -> None:
        """Record a run that raised (JSON with its parameters and traceback)."""
        import json

        write_text(self.root / "failed" / f"{run_id}.json", json.dumps(record, indent=2, default=str))

    def failures(self) -> list[dict]:
        """Failure records of runs that have not succeeded since."""
        import json

        done = self.done()
        return [json.loads(p.read_text(encoding="utf-8"))
                for p in sorted((self.root / "failed").glob("*.json")) if p.stem not in done]

    def load(self, run_ids: list[str]) -> pd.DataFrame:
        """Concatenate finished runs in the order of ``run_ids`` (missing ones skipped)."""
        frames = [pd.read_parquet(self.path(r)) for r in run_ids if self.path(r).is_file()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
