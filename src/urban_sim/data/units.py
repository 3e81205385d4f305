"""Units of the input tables and the valid range of a value in each (checked on load).

A share entered as a percent (42 for 0.42) or a rate per 1000 for a rate per person is the
commonest slip in hand-made tables; every table with a ``unit`` column is checked against
:data:`UNIT_RANGES` when it is read (:func:`check_units`), so such a value is an error naming
file, row, column, value and range instead of a target that can never be met. A table using a
unit not listed here is an error too: add the unit with its range when adding such data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

INF = math.inf

UNIT_RANGES: dict[str, tuple[float, float]] = {
    # fractions: a percent is the error this table exists to catch
    "share": (0.0, 1.0),
    "probability": (0.0, 1.0),
    "index": (0.0, 1.0),
    "share of children 6-14": (0.0, 1.0),
    "dissimilarity": (0.0, 1.0),                  # nested-logit λ in (0, 1]
    "share_of_group": (0.0, 10.0),                # capacity per member of a group; > 1 is spare
    "utilisation": (0.0, 2.0),
    "elasticity": (-5.0, 5.0),
    # demographic rates per person (per 1000 would be 1000 times larger)
    "births per woman per year": (0.0, 1.0),
    "deaths per person per year": (0.0, 1.0),
    "per person per year": (0.0, 1.0),
    "per household per year": (0.0, 1.0),
    "per year": (-1.0, 1.0),
    "1/year": (0.0, 1.0),  # a partial-adjustment rate (childcare.csv private_response_rate)
    # counts and physical quantities
    "persons": (0.0, INF),
    "count": (0.0, INF),
    "bed": (0.0, INF),
    "seat": (0.0, INF),
    "place": (0.0, INF),
    "unit": (0.0, INF),
    "km": (0.0, INF),
    "km2": (0.0, INF),
    "km/km2": (0.0, INF),
    "persons per km2": (0.0, INF),
    "m2 per dwelling": (0.0, INF),
    "jobs": (0.0, INF),
    "persons per household": (1.0, 20.0),
    "years": (0.0, 200.0),
    "year": (1900.0, 2100.0),
    "ratio": (0.0, INF),
    "relative": (-1.0, INF),
    "exponent": (0.0, INF),
    "vehicles per resident": (0.0, 5.0),
    "jobs per resident": (0.0, 5.0),
    "jobs per 1000 residents": (0.0, 1000.0),
    "jobs per direct job": (0.0, 100.0),
    "jobs per labour-force member": (0.0, 5.0),
    "yuan/m2": (0.0, INF),
    "yuan per worker per year": (0.0, INF),
    "yuan per household per year": (0.0, INF),
    # utilities of the location choice: any real number
    "utility": (-INF, INF),
    "utility per index point": (-INF, INF),
    "utility per ln(yuan)": (-INF, INF),
    "utility per ln(yuan/m2)": (-INF, INF),
    "utility per share": (-INF, INF),
    "log hazard": (-INF, INF),
    "log hazard per relative job growth": (-INF, INF),
}
"""Valid range (low, high), both inclusive, of a value in each unit."""


def _fmt(x: float) -> str:
    return "inf" if x == INF else "-inf" if x == -INF else f"{x:g}"


def check_units(frame: pd.DataFrame, columns: tuple[str, ...] | list[str], path: object) -> str | None:
    """First value outside its unit's valid range, as one message; None if all are inside.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with a ``unit`` column (tables without one are not checked).
    columns : sequence of str
        Numeric columns holding values in the row's unit (e.g. ``value``, ``low``, ``high``);
        missing columns and empty cells are skipped.
    path : path-like
        The table's file, for the message; rows are named by line (index + 2, as read by
        :func:`urban_sim.data.tables.read_csv`).

    Returns
    -------
    str or None
        ``"FILE: row N, column 'target': value 42 outside [0, 1] for unit 'share'"`` or
        ``"FILE: row N: unknown unit 'percent' (known: ...)"``.
    """
    if "unit" not in frame.columns:
        return None
    units = frame["unit"].astype("string").str.strip()
    known = units.isin(list(UNIT_RANGES)).fillna(False).to_numpy(bool) | units.isna().to_numpy(bool)
    if not known.all():
        pos = int(np.flatnonzero(~known)[0])
        return (f"{path}: row {int(frame.index[pos]) + 2}: unknown unit {units.iloc[pos]!r} (known: "
                f"{', '.join(sorted(UNIT_RANGES))}); declare its valid range in "
                "urban_sim/data/units.py")
    low = units.map(lambda u: UNIT_RANGES.get(u, (-INF, INF))[0]).to_numpy(float, na_value=-INF)
    high = units.map(lambda u: UNIT_RANGES.get(u, (-INF, INF))[1]).to_numpy(float, na_value=INF)
    for col in columns:
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float, na_value=np.nan)
        bad = ~np.isnan(values) & ((values < low) | (values > high))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            return (f"{path}: row {int(frame.index[pos]) + 2}, column {col!r}: value {values[pos]:g} "
                    f"outside [{_fmt(low[pos])}, {_fmt(high[pos])}] for unit "
                    f"{units.iloc[pos]!r}")
    return None
