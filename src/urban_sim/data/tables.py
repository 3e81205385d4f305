"""Reading the input tables of a county (``data/<county>/*.csv``).

Every table carries ``year``, ``source`` and ``status`` columns (status one of ``observed``,
``derived``, ``assumed``). A user can replace any file with their own county's figures, keeping
the columns. Files may be UTF-8 (with or without BOM) or GBK, as statistics offices publish them.
"""

from __future__ import annotations

import functools
import os
import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.data.sources import check_sources
from urban_sim.data.units import check_units
from urban_sim.errors import DataError

log = logging.getLogger(__name__)

STATUSES = frozenset({"observed", "derived", "assumed"})
ENCODINGS = ("utf-8-sig", "gbk")

DEFAULT_DATA_DIR = Path(str(resources.files("urban_sim.data") / "lin_county"))
"""Built-in Lin County data, installed with the package (``urban_sim/data/lin_county``; in a
checkout also reachable as ``data/lin_county``)."""

_COLUMNS: dict[str, tuple[str, ...]] = {
    "census": ("indicator", "year", "value", "unit"),
    "townships": (
        "township_id", "name_zh", "kind", "n_villages", "population_weight", "centre_share",
        "distance_to_seat_km", "qikou_scenic_area",
    ),
    "villages": (
        "village_id", "township_id", "population_weight", "distance_to_centre_km",
        "distance_to_seat_km",
    ),
    "age_structure": ("population", "year", "age_min", "age_max", "share"),
    "household_size": ("year", "size", "share"),
    "vital_rates": ("rate", "year", "age_min", "age_max", "value"),
    "plan_targets": ("indicator", "year", "operator", "target", "target_high", "task_area"),
    "stocks": ("stock", "year", "value", "unit", "depreciation_rate_per_year"),
    "programmes": (
        "programme_id", "task_area", "stock", "place", "unit_size", "unit_cost_million_yuan",
        "lag_years", "construction_jobs_per_million_yuan", "operating_jobs_per_unit",
        "operating_sector", "default_weight", "available_from",
    ),
    "parameters": ("name", "value", "low", "high", "unit"),
}


def read_csv(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV file that may be UTF-8, UTF-8 with BOM, or GBK.

    Parameters
    ----------
    path : str or Path
    encoding : str, optional
        Force an encoding; by default UTF-8 (BOM stripped) is tried, then GBK.

    Returns
    -------
    pandas.DataFrame
        Rows entirely empty (bare delimiters ``,,,,`` as spreadsheets save them, or blanks) are
        dropped, with a note in the log (``logging.INFO``); the index keeps each row's position
        in the file, so row ``i`` is line ``i + 2`` (see :func:`csv_line`).

    Raises
    ------
    DataError
        If the file is missing or cannot be decoded with any tried encoding.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    tried = (encoding,) if encoding else ENCODINGS
    for enc in tried:
        try:
            frame = pd.read_csv(path, encoding=enc, dtype_backend="numpy_nullable")
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path}: not a valid CSV table ({exc})") from None
        frame.columns = [str(c).lstrip("\ufeff").strip() for c in frame.columns]
        blank = empty_cells(frame).all(axis=1)
        if blank.any():
            log.info("%s: skipped %d empty row(s) (lines %s)", path, int(blank.sum()),
                     ", ".join(str(i + 2) for i in frame.index[blank]))
            frame = frame[~blank]
        return frame
    raise DataError(
        f"{path}: cannot decode the file with {', '.join(tried)}; "
        "save it as UTF-8 or pass the 'encoding' option"
    )


def empty_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """True where a cell is missing or only blanks, same shape as ``frame``."""
    empty = frame.isna()
    for col in frame.columns[[not pd.api.types.is_numeric_dtype(d) for d in frame.dtypes]]:
        empty[col] |= frame[col].astype("string").str.strip().eq("").fillna(False).to_numpy(bool)
    return empty


def csv_line(frame: pd.DataFrame, position: int) -> int:
    """Line in its file (header = line 1) of the row at ``position`` of a :func:`read_csv` frame."""
    return int(frame.index[position]) + 2


_OPTIONAL: dict[str, tuple[str, ...]] = {
    "plan_targets": ("target_high",),
    "parameters": ("low", "high"),
}
"""Required columns whose cells may be empty."""

_NUMERIC: dict[str, tuple[str, ...]] = {
    "census": ("value",),
    "townships": ("township_id", "n_villages", "population_weight", "centre_share",
                  "distance_to_seat_km", "qikou_scenic_area"),
    "villages": ("village_id", "township_id", "population_weight", "distance_to_centre_km",
                 "distance_to_seat_km"),
    "age_structure": ("year", "age_min", "age_max", "share"),
    "household_size": ("year", "size", "share"),
    "vital_rates": ("year", "age_min", "age_max", "value"),
    "plan_targets": ("year", "target"),
    "stocks": ("year", "value"),
    "programmes": ("unit_size", "unit_cost_million_yuan", "lag_years",
                   "construction_jobs_per_million_yuan", "operating_jobs_per_unit", "default_weight",
                   "available_from"),
    "parameters": ("value", "low", "high"),
}
"""Columns that must hold numbers (empty cells allowed only where a column is optional)."""


_VALUES: dict[str, tuple[str, ...]] = {
    "census": ("value", "low", "high"),
    "age_structure": ("share",),
    "household_size": ("share",),
    "vital_rates": ("value", "low", "high"),
    "plan_targets": ("target", "target_high"),
    "stocks": ("value", "low", "high"),
    "parameters": ("value", "low", "high"),
}
"""Columns holding values in the row's ``unit`` (checked against its valid range)."""


def read_table(data_dir: Path, name: str) -> pd.DataFrame:
    """Read ``name.csv`` from ``data_dir`` and check its columns and status values.

    Raises
    ------
    DataError
        Missing file or column, empty table, a partly empty row, a value that is not a number
        or outside its unit's valid range (:data:`urban_sim.data.units.UNIT_RANGES`), a
        ``status`` outside observed/derived/assumed, or a ``source`` naming a file that is not in
        the data folder or the repository (:func:`urban_sim.data.sources.check_sources`).
    """
    path = Path(data_dir) / f"{name}.csv"
    frame = read_csv(path)
    required = (*_COLUMNS[name], "year", "source", "status")
    missing = [c for c in dict.fromkeys(required) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise DataError(f"{path}: table has no rows")
    needed = [c for c in dict.fromkeys(required) if c not in _OPTIONAL.get(name, ())]
    empty = empty_cells(frame[needed]).to_numpy()
    if empty.any():
        row, col = (int(i[0]) for i in np.nonzero(empty))
        raise DataError(f"{path}: row {csv_line(frame, row)} is partly empty: column "
                        f"{needed[col]!r} has no value (delete the row or fill it in)")
    for col in _NUMERIC.get(name, ()):
        values = pd.to_numeric(frame[col], errors="coerce")
        wrong = values.isna() & frame[col].notna()
        if wrong.any():
            row = int(np.flatnonzero(wrong.to_numpy())[0])
            raise DataError(f"{path}: row {csv_line(frame, row)}, column {col!r}: "
                            f"{frame[col].iloc[row]!r} is not a number")
        frame[col] = values
    bad = np.flatnonzero(~frame["status"].isin(STATUSES).to_numpy())
    if len(bad):
        raise DataError(
            f"{path}: row {csv_line(frame, int(bad[0]))}: status {frame['status'].iloc[bad[0]]!r} "
            f"not in {sorted(STATUSES)}"
        )
    problem = check_units(frame, _VALUES.get(name, ()), path)
    if problem:
        raise DataError(problem)
    check_sources(frame, path, Path(data_dir), line=lambda pos: csv_line(frame, pos))
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class CountyData:
    """All input tables of one county, read and checked.

    Attributes
    ----------
    data_dir : Path
    census, townships, villages, age_structure, household_size, vital_rates, plan_targets,
    stocks, programmes : pandas.DataFrame
        The tables of the same names (see ``data/lin_county/README.md``).
    parameters : dict[str, float]
        Default behavioural and economic parameters (``parameters.csv``).
    parameter_ranges : dict[str, tuple[float, float]]
        Plausible range (low, high) of each parameter; scenario overrides must lie inside it.
    """

    data_dir: Path
    census: pd.DataFrame
    townships: pd.DataFrame
    villages: pd.DataFrame
    age_structure: pd.DataFrame
    household_size: pd.DataFrame
    vital_rates: pd.DataFrame
    plan_targets: pd.DataFrame
    stocks: pd.DataFrame
    programmes: pd.DataFrame
    parameters: dict[str, float]
    parameter_ranges: dict[str, tuple[float, float]]

    def census_value(self, indicator: str, year: int) -> float:
        """Census figure ``indicator`` in ``year``.

        Raises
        ------
        DataError
            If the table has no such row.
        """
        rows = self.census[(self.census["indicator"] == indicator) & (self.census["year"] == year)]
        if rows.empty:
            raise DataError(
                f"{self.data_dir / 'census.csv'}: no row for indicator {indicator!r}, year {year}"
            )
        return float(rows["value"].iloc[0])

    def memo(self, key: tuple, build):
        """``build()``, computed once per key for these tables (a worker builds thousands of
        models from one :class:`CountyData`). The value is shared: do not modify it."""
        store = self.__dict__.setdefault("_memo", {})
        if key not in store:
            store[key] = build()
        return store[key]

    def stock_values(self, year: int) -> pd.DataFrame:
        """Stocks of the latest table year not after ``year`` (one row per stock; a copy)."""
        return self.memo(("stock_values", year), lambda: self._stock_values(year)).copy()

    def _stock_values(self, year: int) -> pd.DataFrame:
        frame = self.stocks[self.stocks["year"] <= year]
        if frame.empty:
            frame = self.stocks
        return frame.sort_values("year").groupby("stock", sort=False).tail(1).set_index("stock")

    def table_year(self, frame: pd.DataFrame, year: int) -> int:
        """Latest year of ``frame`` not after ``year`` (or its first year)."""
        years = np.unique(frame["year"].to_numpy(dtype=int))
        past = years[years <= year]
        return int(past.max() if past.size else years.min())


def _signature(data_dir: str | Path | None) -> tuple[str, tuple]:
    """Resolved folder and the (name, size, mtime) of its CSV files and start states
    (``start_<year>.npz``): the cache key of the folder (no files for a missing folder; reading
    it then raises in :func:`load_county`)."""
    folder = str((Path(data_dir) if data_dir else DEFAULT_DATA_DIR).resolve())
    try:  # the listing changes only with the folder's mtime (a file added, removed, renamed)
        names = _listing(folder, os.stat(folder).st_mtime_ns)
        stats = [os.stat(os.path.join(folder, n)) for n in names]
    except OSError:  # no folder, or a file removed since: list it again (not cached)
        names = _listing.__wrapped__(folder, 0)
        stats = [os.stat(os.path.join(folder, n)) for n in names]
    return folder, tuple((n, st.st_size, st.st_mtime_ns) for n, st in zip(names, stats))


@functools.lru_cache(maxsize=16)
def _listing(folder: str, mtime_ns: int) -> tuple[str, ...]:
    """Names of the CSV files and start states of ``folder``, sorted (empty if it is missing)."""
    path = Path(folder)
    return tuple(sorted(f.name for f in [*path.glob("*.csv"), *path.glob("start_*.npz")]))


def data_fingerprint(data_dir: str | Path | None = None) -> str:
    """sha256 (hex, 16 characters) of the contents of every CSV file of a data folder.

    Part of every run id, so that a run made with other data is never taken for a finished one.
    Cached on the files' names, sizes and modification times.
    """
    return _fingerprint(*_signature(data_dir))


def load_county_cached(data_dir: str | Path | None = None) -> CountyData:
    """:func:`load_county`, read once per process while the folder's files are unchanged.

    Used for every run that is not handed its data, so a worker doing thousands of runs reads
    the tables once. The returned tables are shared: do not modify them.
    """
    return _load_cached(*_signature(data_dir))


@functools.lru_cache(maxsize=8)
def _load_cached(folder: str, signature: tuple) -> CountyData:
    return load_county(folder)


@functools.lru_cache(maxsize=64)
def _fingerprint(folder: str, signature: tuple) -> str:
    h = hashlib.sha256()
    for name, _, _ in signature:
        h.update(name.encode())
        h.update((Path(folder) / name).read_bytes())
    return h.hexdigest()[:16]


def load_county(data_dir: str | Path | None = None) -> CountyData:
    """Read and check every table of a county.

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder with the CSV files; default the built-in Lin County data.

    Raises
    ------
    DataError
        On any missing file, missing column, bad status or failed consistency check (village
        counts per township, shares summing to 1).
    """
    data_dir = Path(data_dir) if data_dir else DEFAULT_DATA_DIR
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder not found")
    t = {name: read_table(data_dir, name) for name in _COLUMNS}
    townships = t["townships"].sort_values("township_id").reset_index(drop=True)
    villages = t["villages"].sort_values("village_id").reset_index(drop=True)
    if not np.array_equal(townships["township_id"].to_numpy(int), np.arange(len(townships))):
        raise DataError(f"{data_dir / 'townships.csv'}: township_id must be 0..{len(townships) - 1}")
    if (townships["kind"] == "county_seat").sum() != 1 or townships["kind"].iloc[0] != "county_seat":
        raise DataError(f"{data_dir / 'townships.csv'}: row township_id 0 must be the one county_seat")
    counts = np.bincount(villages["township_id"].to_numpy(int), minlength=len(townships))
    if not np.array_equal(counts, townships["n_villages"].to_numpy(int)):
        raise DataError(
            f"{data_dir / 'villages.csv'}: villages per township {counts.tolist()} do not match "
            f"townships.csv n_villages"
        )
    for name, keys in (("age_structure", ["population", "year"]), ("household_size", ["year"])):
        sums = t[name].groupby(keys)["share"].sum()
        if (np.abs(sums - 1) > 1e-6).any():
            raise DataError(f"{data_dir / (name + '.csv')}: shares do not sum to 1: {sums.to_dict()}")
    for name in ("age_structure", "vital_rates"):  # ages index the kernels' arrays unchecked
        lo, hi = t[name]["age_min"].to_numpy(float), t[name]["age_max"].to_numpy(float)
        if len(bad := np.flatnonzero(~((lo >= 0) & (hi >= lo)))):
            raise DataError(f"{data_dir / (name + '.csv')}: line {csv_line(t[name], bad[0])}: "
                            f"age_min = {lo[bad[0]]:g}, age_max = {hi[bad[0]]:g}; age_min must "
                            "be ≥ 0 and age_max ≥ age_min")
    par = t["parameters"]
    params = dict(zip(par["name"], par["value"].astype(float)))
    ranges = {n: (float(lo), float(hi)) for n, lo, hi in zip(par["name"], par["low"], par["high"])}
    return CountyData(
        data_dir=data_dir,
        census=t["census"],
        townships=townships,
        villages=villages,
        age_structure=t["age_structure"],
        household_size=t["household_size"],
        vital_rates=t["vital_rates"],
        plan_targets=t["plan_targets"],
        stocks=t["stocks"],
        programmes=t["programmes"],
        parameters=params,
        parameter_ranges=ranges,
    )


def check_folder_sources(data_dir: Path) -> None:
    """Check the ``source`` cells of every CSV table in ``data_dir`` (see :func:`check_sources`).

    Raises
    ------
    DataError
    """
    for path in sorted(Path(data_dir).glob("*.csv")):
        check_sources(read_csv(path), path, data_dir)
