"""Files: atomic writers (a file is absent or complete, never half written), output folders,
manifest provenance (versions, git commit)."""

from __future__ import annotations

import json
import os
import platform
import stat
import subprocess
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from urban_sim.errors import ExperimentError


_PACKAGES = ("urban_sim", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "matplotlib")


def file_stat(path: str | os.PathLike) -> os.stat_result | None:
    """``os.stat`` of a regular file (links followed), None when there is none: what
    ``Path.is_file`` and ``Path.stat`` tell, in one call and without building a Path (input
    files checked for changes once per model).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def file_mode() -> int:
    """Mode of a new file as ``open()`` would create it: ``0o666 & ~umask``."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    ``os.replace`` is atomic on POSIX and Windows within one file system, so readers see the
    old file or the new one, never a partial one. The temporary file is removed on error. The
    file gets the mode a plain ``open()`` would give it (:func:`file_mode`), not the 0600 of
    ``mkstemp``, so others can read results as the umask allows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON (indented, UTF-8, non-ASCII kept) atomically; unknown types as ``str``."""
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


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


def git_commit() -> str | None:
    """Commit of the source tree the package runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_dirty() -> bool | None:
    """Whether the source tree the package runs from has uncommitted changes to tracked files
    (None outside a git checkout). Recorded in manifests next to :func:`git_commit`."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "."],
                             cwd=Path(__file__).parent, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def versions() -> dict[str, str | None]:
    """Versions of Python and the key packages (for manifests)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
