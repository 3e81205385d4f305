"""Checks of the ``source`` cells of a county's data tables.

Every ``source`` cell names the original public source (document, table, web address) or starts
with ``assumption:`` and gives the reasoning. A source may name a file only if that file is in
the data folder or the repository (e.g. ``make_villages.py``, ``stocks.csv``); notes kept
outside the repository (``../shared/research/...``, "the research notes") do not resolve for a
reader of the data and are rejected.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from urban_sim.errors import DataError

_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+")
_FILE = re.compile(r"(?<![\w/.-])((?:\.\./|\./)?[\w./-]*[\w-]\.(?:md|csv|py|txt|ya?ml|toml|json|ipynb|parquet))\b",
                   re.IGNORECASE)
_NOTES = re.compile(r"research notes|\.\./shared|(?<![\w])research/", re.IGNORECASE)


def _roots(data_dir: Path) -> list[Path]:
    """The data folder and the repository (or installed package) folders above it."""
    data_dir = Path(data_dir).resolve()
    roots = [data_dir]
    for parent in data_dir.parents:
        roots.append(parent)
        if (parent / "pyproject.toml").is_file() or (parent / ".git").exists():
            break
    return roots


def unresolved_file(source: str, data_dir: Path) -> str | None:
    """The first file named in ``source`` that is not in the data folder or the repository
    (``None`` when every named file resolves). Web addresses are not files."""
    text = _URL.sub(" ", str(source))
    if _NOTES.search(text):
        return _NOTES.search(text).group(0)
    roots = _roots(data_dir)
    for name in _FILE.findall(text):
        if name.startswith("../") or not any((r / name).is_file() or (r / Path(name).name).is_file()
                                             for r in roots):
            return name
    return None


def check_sources(frame: pd.DataFrame, path: Path, data_dir: Path, line=None) -> None:
    """Check every ``source`` cell of a table (see module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Table with a ``source`` column.
    path : Path
        The table's file, named in the error.
    data_dir : Path
        Its data folder.
    line : callable, optional
        Row position → line in the file (default position + 2).

    Raises
    ------
    DataError
        Naming file, line, column and the unresolved reference.
    """
    if "source" not in frame.columns:
        return
    cache: dict[str, str | None] = {}
    for pos, cell in enumerate(frame["source"].astype(str)):
        if cell not in cache:
            cache[cell] = unresolved_file(cell, data_dir)
        bad = cache[cell]
        if bad:
            where = line(pos) if line else pos + 2
            raise DataError(
                f"{path}: row {where}, column 'source': names {bad!r}, which is not in the data "
                "folder or the repository; name the original public source (document, table, "
                "address) or write 'assumption: <reasoning>'")
