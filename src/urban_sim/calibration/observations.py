"""Census observations used as calibration targets: reading, selecting, comparing.

An observations file is a CSV table with one row per observed figure::

    year, place, indicator, value, uncertainty, uncertainty_kind, unit, source, status

``place`` is ``county`` for county totals or any place the model reports (``county_seat``,
``towns``, ``villages``, ``outside``, a township name). ``uncertainty_kind`` is ``sd`` (the
figure's standard deviation, in its own unit) or ``weight`` (a weight on the squared relative
error). Files may be UTF-8 with or without BOM, or GBK, as statistics offices publish them
(case C12). Years without a figure are simply absent: nothing is interpolated, filled or
extrapolated (case C13).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.data.tables import STATUSES, csv_line, empty_cells, read_csv
from urban_sim.data.units import check_units
from urban_sim.errors import CalibrationError, DataError

KEY = ["year", "place", "indicator"]
"""Columns identifying one observation (and the matching simulated series point)."""

COLUMNS = ("year", "place", "indicator", "value", "uncertainty", "uncertainty_kind", "source")
"""Required columns; ``unit``, ``status`` and ``note`` are optional."""

UNCERTAINTY_KINDS = ("sd", "weight")


def read_observations(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read and check an observations file.

    Parameters
    ----------
    path : str or Path
        CSV file (UTF-8, UTF-8 with BOM, or GBK).
    encoding : str, optional
        Force an encoding (e.g. ``"gb18030"``); by default UTF-8 then GBK are tried.

    Returns
    -------
    pandas.DataFrame
        One row per observation with columns :data:`COLUMNS` (plus ``unit``, ``status``,
        ``note`` when present); ``year`` int, ``value`` and ``uncertainty`` float, ``place``
        and ``indicator`` str. Row order is kept.

    Raises
    ------
    CalibrationError
        Missing file or column, undecodable text (naming the ``encoding`` option), a
        non-numeric value, a non-positive uncertainty, an unknown ``uncertainty_kind`` or
        ``status``, or two rows for the same (year, place, indicator).
    """
    path = Path(path)
    try:
        frame = read_csv(path, encoding=encoding)
    except DataError as exc:
        raise CalibrationError(str(exc)) from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CalibrationError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise CalibrationError(f"{path}: table has no rows")
    empty = empty_cells(frame[list(COLUMNS)]).to_numpy()
    if empty.any():
        row, col = (int(i[0]) for i in np.nonzero(empty))
        raise CalibrationError(f"{path}: row {csv_line(frame, row)} is partly empty: column "
                               f"'{COLUMNS[col]}' has no value (delete the row or fill it in)")
    out = frame.copy()
    for col in ("year", "value", "uncertainty"):
        num = pd.to_numeric(out[col], errors="coerce")
        bad = num.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CalibrationError(f"{path}: row {csv_line(frame, row)}: column '{col}' = "
                                   f"{frame[col].iloc[row]!r} is not a number")
        out[col] = num.astype(int if col == "year" else float)
    for col in ("place", "indicator", "uncertainty_kind", "source"):
        out[col] = out[col].astype(str).str.strip()
    checks = [
        (out["uncertainty"] <= 0, "uncertainty", "must be > 0"),
        (~out["uncertainty_kind"].isin(UNCERTAINTY_KINDS), "uncertainty_kind",
         f"must be one of {', '.join(UNCERTAINTY_KINDS)}"),
    ]
    if "status" in out.columns:
        checks.append((~out["status"].isin(STATUSES), "status",
                       f"must be one of {', '.join(sorted(STATUSES))}"))
    for mask, col, rule in checks:
        if mask.any():
            row = int(np.flatnonzero(mask.to_numpy())[0])
            raise CalibrationError(f"{path}: row {csv_line(frame, row)}: column '{col}' = "
                                   f"{frame[col].iloc[row]!r}: {rule}")
    problem = check_units(out, ("value",), path)
    if problem:
        raise CalibrationError(problem)
    dup = out.duplicated(KEY, keep=False)
    if dup.any():
        r = out[dup].iloc[0]
        raise CalibrationError(
            f"{path}: more than one row for year {r['year']}, place {r['place']!r}, "
            f"indicator {r['indicator']!r}")
    return out.reset_index(drop=True)


def select(observations: pd.DataFrame, selectors: list[dict]) -> np.ndarray:
    """Boolean mask of the rows matching any selector.

    Parameters
    ----------
    observations : pandas.DataFrame
    selectors : list of dict
        Each maps some of ``year``, ``place``, ``indicator`` to a value; a row matches a
        selector when every given key is equal.

    Returns
    -------
    numpy.ndarray of bool, shape (n_observations,)

    Raises
    ------
    CalibrationError
        If a selector matches no observation (a misspelled indicator or place, a missing year).
    """
    mask = np.zeros(len(observations), dtype=bool)
    for sel in selectors:
        hit = np.ones(len(observations), dtype=bool)
        for key, value in sel.items():
            hit &= (observations[key] == value).to_numpy()
        if not hit.any():
            raise CalibrationError(f"holdout {sel} matches no observation; observed indicators: "
                                   f"{sorted(observations['indicator'].unique())}")
        mask |= hit
    return mask


def missing_years(observations: pd.DataFrame) -> pd.DataFrame:
    """Years observed for an indicator somewhere but missing for a place (case C13).

    Parameters
    ----------
    observations : pandas.DataFrame
        As returned by :func:`read_observations`.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator, place, observed_years, missing_years`` (years as text, space
        separated), one row per (indicator, place); ``missing_years`` is empty when complete.
        Nothing is filled in: these years simply do not enter the loss.
    """
    rows = []
    for indicator, frame in observations.groupby("indicator", sort=False):
        all_years = sorted(set(frame["year"]))
        for place, sub in frame.groupby("place", sort=False):
            have = sorted(set(sub["year"]))
            rows.append({"indicator": indicator, "place": place,
                         "observed_years": " ".join(map(str, have)),
                         "missing_years": " ".join(str(y) for y in all_years if y not in have)})
    return pd.DataFrame(rows, columns=["indicator", "place", "observed_years", "missing_years"])


def summarize(simulated: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over replicates of a long timeseries.

    Parameters
    ----------
    simulated : pandas.DataFrame
        Columns ``replicate, year, place, indicator, value`` (other columns ignored).

    Returns
    -------
    pandas.DataFrame
        Columns ``year, place, indicator, sim_mean, sim_sd`` (sd with ddof=1; 0 for one
        replicate).
    """
    g = simulated.groupby(KEY, sort=False)["value"]
    out = pd.DataFrame({"sim_mean": g.mean(), "sim_sd": g.std(ddof=1)}).reset_index()
    out["sim_sd"] = out["sim_sd"].fillna(0.0)
    out["year"] = out["year"].astype(int)
    out["place"] = out["place"].astype(str)
    out["indicator"] = out["indicator"].astype(str)
    return out


def compare(observations: pd.DataFrame, simulated: pd.DataFrame) -> pd.DataFrame:
    """Match each observation with the simulated mean and sd at its (year, place, indicator).

    Only rows present in ``observations`` are compared; simulated years without an observation
    are ignored, and an observation is never created where the file has none (case C13).

    Parameters
    ----------
    observations : pandas.DataFrame
        As returned by :func:`read_observations`.
    simulated : pandas.DataFrame
        Long timeseries (columns ``replicate, year, place, indicator, value``) of one
        parameter vector, any number of replicates.

    Returns
    -------
    pandas.DataFrame
        The observation rows with ``sim_mean, sim_sd, error`` (sim_mean − observed), ``z``
        (error / sd for ``sd`` rows; √weight × relative error for ``weight`` rows) and
        ``contribution`` (z², the row's term in the distance).

    Raises
    ------
    CalibrationError
        If an observation has no simulated counterpart (unknown indicator or place, or a year
        outside the simulated period).
    """
    merged = observations.merge(summarize(simulated), on=KEY, how="left")
    lost = merged["sim_mean"].isna()
    if lost.any():
        r = merged[lost].iloc[0]
        raise CalibrationError(
            f"observation year {r['year']}, place {r['place']!r}, indicator {r['indicator']!r}: "
            f"the model does not report it ({int(lost.sum())} such row(s)); check the indicator "
            "and place names and the simulated years")
    merged["error"] = merged["sim_mean"] - merged["value"]
    is_sd = (merged["uncertainty_kind"] == "sd").to_numpy()
    rel = merged["error"] / merged["value"].abs().where(merged["value"] != 0, 1.0)
    merged["z"] = np.where(is_sd, merged["error"] / merged["uncertainty"],
                           np.sqrt(merged["uncertainty"]) * rel)
    merged["contribution"] = merged["z"] ** 2
    return merged


def distance(observations: pd.DataFrame, simulated: pd.DataFrame) -> float:
    """The method-of-simulated-moments distance Σ z² over the observations given.

    ``z = (m̄ − y) / sd`` for rows with an ``sd``; ``z² = w · ((m̄ − y) / y)²`` for rows with a
    ``weight``; ``m̄`` is the mean over replicates (see :func:`compare`).
    """
    return float(compare(observations, simulated)["contribution"].sum())
