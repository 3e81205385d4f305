"""Files: atomic writers (a file is absent or complete, never half written) and output folders."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from urban_sim.errors import ExperimentError


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
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ExperimentError(f"--out {path}: is a file, not a folder; choose another output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExperimentError(f"--out {path}: cannot create the output folder ({exc.strerror})") from None
    return path
