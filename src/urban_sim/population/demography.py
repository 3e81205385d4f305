"""Demography: ageing, deaths, births and household formation, column-wise.

Rates come from ``vital_rates.csv`` (age-specific mortality per person-year and fertility per
woman-year by 5-year group), interpolated linearly between table years and held constant
outside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from urban_sim.population.kernels import living_with_older_generation
from urban_sim.population.state import Table

MAX_AGE = 110


def rate_schedules(vital_rates: pd.DataFrame, rate: str) -> tuple[np.ndarray, np.ndarray]:
    """Table years, shape (n_years,), and single-year schedules, shape (n_years, MAX_AGE + 1).

    The last age group (age_max ≥ 99) extends to ``MAX_AGE``; ages outside the table get 0.

    Raises
    ------
    KeyError
        If the table has no row for ``rate``.
    """
    rows = vital_rates[vital_rates["rate"] == rate]
    if rows.empty:
        raise KeyError(f"vital_rates.csv has no rows for rate {rate!r}")
    years = np.sort(rows["year"].unique().astype(int))
    sched = np.zeros((len(years), MAX_AGE + 1))
    year_i = np.searchsorted(years, rows["year"].to_numpy().astype(int))
    lo = rows["age_min"].to_numpy().astype(int)
    hi_max = rows["age_max"].to_numpy()
    hi = np.where(hi_max >= 99, MAX_AGE, hi_max).astype(int)
    for i, a, b, v in zip(year_i, lo, hi, rows["value"].to_numpy(float), strict=True):
        sched[i, a: b + 1] += v  # rows of a year in table order, as read
    return years.astype(float), sched


def rate_in_year(years: np.ndarray, schedules: np.ndarray, year: int) -> np.ndarray:
    """Schedule for ``year``: linear between table years, constant outside them."""
    y = float(np.clip(year, years[0], years[-1]))
    i = int(np.clip(np.searchsorted(years, y, side="right") - 1, 0, len(years) - 1))
    if i == len(years) - 1:
        return schedules[i].copy()
    w = (y - years[i]) / (years[i + 1] - years[i])
    return (1 - w) * schedules[i] + w * schedules[i + 1]


def rate_by_age(vital_rates: pd.DataFrame, rate: str, year: int) -> np.ndarray:
    """Single-year rate schedule of ``rate`` in ``year``, shape (MAX_AGE + 1,)."""
    return rate_in_year(*rate_schedules(vital_rates, rate), year)


def deaths(persons: Table, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw deaths among the living; returns the indices of persons who died.

    Parameters
    ----------
    q : numpy.ndarray, shape (MAX_AGE + 1,)
        Probability of dying within the year by age (already scaled by the mortality multiplier).
    """
    alive = np.flatnonzero(persons.alive)
    age = np.minimum(persons.age.take(alive), MAX_AGE)
    dead = alive[rng.random(len(alive)) < q.take(age)]
    persons.alive[dead] = False
    return dead


def births(persons: Table, f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw births to living women; newborns join the mother's household and location.

    Parameters
    ----------
    f : numpy.ndarray, shape (MAX_AGE + 1,)
        Births per woman per year by age (already scaled by the fertility multiplier).

    Returns
    -------
    numpy.ndarray
        Row indices of the newborns.
    """
    women = np.flatnonzero(persons.alive & persons.female & (persons.age >= 15) & (persons.age <= 49))
    mothers = women[rng.random(len(women)) < f.take(persons.age.take(women))]
    k = len(mothers)
    return persons.append(
        age=np.zeros(k, np.int16),
        female=rng.random(k) < 100 / 211,  # sex ratio at birth 111 (assumption, Shanxi-like)
        hh=persons.hh[mothers],
        loc=persons.loc[mothers],
        alive=np.ones(k, bool),
        mother=mothers.astype(np.int32),
        trained=np.zeros(k, bool),
        sector=np.full(k, -1, np.int8),
    )


def form_households(
    persons: Table, households: Table, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Adults aged 22–35 living with an older generation leave to form their own household.

    A leaver takes along their own children (persons whose ``mother`` is the leaver). The new
    household keeps the home village and hukou type of the old one, holds no land of its own and
    has its base where the leaver lives.

    Returns
    -------
    numpy.ndarray
        Row indices of the new households.
    """
    cand = living_with_older_generation(persons.hh, persons.alive, persons.age, len(households),
                                        22, 35, 18)
    leavers = cand[rng.random(len(cand)) < rate]
    if not len(leavers):
        return np.zeros(0, dtype=np.int64)
    old = persons.hh[leavers]
    loc = persons.loc[leavers]
    new = households.append(
        village=households.village[old],
        township=households.township[old],
        base=loc,
        hukou_urban=households.hukou_urban[old],
        land_tie=np.zeros(len(leavers), bool),
        land_rented=np.zeros(len(leavers), bool),
        homestead_withdrawn=np.zeros(len(leavers), bool),
        years_at_base=np.zeros(len(leavers), np.int16),
    )
    persons.hh[leavers] = new
    leaving = np.zeros(len(persons) + 1, dtype=bool)  # the last cell stands for "no mother"
    leaving[leavers] = True
    kids = np.flatnonzero(persons.alive & (persons.age < 18))
    mother = persons.mother[kids]
    leaving_mother = leaving[mother]  # mother −1 reads the last cell
    kids, mother = kids[leaving_mother], mother[leaving_mother]
    persons.hh[kids] = new[np.searchsorted(leavers, mother)]  # leavers are sorted
    return new

