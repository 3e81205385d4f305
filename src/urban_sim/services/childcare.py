"""Childcare for children aged 0–3: demand from the simulated 0–3 population, inclusive places
built toward it, private places that follow it (plan task 18, 补齐托育服务设施短板).

Demand ``D(t) = children aged 0–3 × take_up(t)``: the simulated children living in the county
(:func:`urban_sim.model.tally.tally`, group ``age_0_3``) times the share whose families seek a
place (``childcare.csv``, interpolated linearly between its years). Demand is the population
group ``childcare_demand`` against which the inclusive places are a capacity built to demand
(:data:`urban_sim.services.stocks.GROUP_OF_STOCK`): the ``inclusive_childcare`` programme can
add places only up to ``D`` (no places for children who are not there). Private places move each
year toward the children left without an inclusive place,
``other' = other + r · (max(D − inclusive, 0) − other)`` with ``r`` the
``private_response_rate`` (like developers building toward wanted dwellings), so they grow with
demand and shrink when inclusive places take their children.

Inputs: ``childcare.csv`` (``item, year, value, unit, low, high, source, status, note``),
optional: without it inclusive places are not bounded by demand and private places stay as they are.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.data.sources import check_sources
from urban_sim.data.tables import read_csv
from urban_sim.data.units import check_units
from urban_sim.errors import DataError
from urban_sim.files import file_stat

INCLUSIVE, PRIVATE = "childcare_places_inclusive", "childcare_places_other"


class Childcare:
    """Take-up schedule and private response of ``childcare.csv`` (module docstring).

    Parameters
    ----------
    data_dir : Path
        County data folder.

    Raises
    ------
    DataError
        Missing columns or items, or a source naming a file outside the repository.
    """

    def __init__(self, data_dir: Path) -> None:
        path = os.path.join(data_dir, "childcare.csv")
        st = file_stat(path)
        self.active = st is not None
        if not self.active:
            return
        # read once per process while the file is unchanged
        self.years, self.take_up_values, self.rate, self._by_year = _read(path, st.st_mtime_ns,
                                                                          st.st_size)

    def take_up(self, year: int) -> float:
        """Share (0–1) of children aged 0–3 whose families seek a place in ``year`` (linear
        between table years, constant outside them; each year's share interpolated once per
        process while the file is unchanged)."""
        if not self.active:
            return 0.0
        v = self._by_year.get(year)
        if v is None:
            v = self._by_year[year] = float(np.interp(year, self.years, self.take_up_values))
        return v

    def demand(self, children_0_3: float, year: int) -> float:
        """Places sought (full-population scale) by ``children_0_3`` children in ``year``."""
        return children_0_3 * self.take_up(year)

    def private_supply(self, stocks, demand: float) -> None:
        """Move private places one year toward the demand not served by inclusive places."""
        if not self.active:
            return
        gap = max(demand - stocks[INCLUSIVE], 0.0) - stocks[PRIVATE]
        stocks[PRIVATE] = max(stocks[PRIVATE] + self.rate * gap, 0.0)


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray, float, dict]:
    # years and take-up shares, the private response rate and a memo of take-up by year (shared
    # by every model reading this file unchanged)
    t = read_csv(path)
    for col in ("value", "low", "high"):
        values = pd.to_numeric(t[col], errors="coerce") if col in t.columns else None
        if values is not None and (values.isna() & t[col].notna()).any():
            row = int(np.flatnonzero((values.isna() & t[col].notna()).to_numpy())[0])
            raise DataError(f"{path}: row {int(t.index[row]) + 2}, column {col!r}: "
                            f"{t[col].iloc[row]!r} is not a number")
        if values is not None:
            t[col] = values
    problem = check_units(t, ("value", "low", "high"), path)  # a share is in [0, 1] (README)
    if problem:
        raise DataError(problem)
    check_sources(t, Path(path), Path(path).parent)
    take = t[t["item"] == "take_up_share"].sort_values("year")
    rate = t[t["item"] == "private_response_rate"]
    if take.empty or rate.empty:
        raise DataError(f"{path}: needs rows for take_up_share and private_response_rate")
    years, values = take["year"].to_numpy(float), take["value"].to_numpy(float)
    years.flags.writeable = values.flags.writeable = False  # shared by every model
    return years, values, float(rate["value"].iloc[0]), {}
