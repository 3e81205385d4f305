"""Demography: ageing, deaths, births and household formation, column-wise.

Rates come from ``vital_rates.csv`` (age-specific mortality per person-year and fertility per
woman-year by 5-year group), interpolated linearly between table years and held constant
outside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from urban_sim.population import vital_kernels as vk
from urban_sim.population.state import LOC_OUTSIDE, Table

MAX_AGE = vk.MAX_AGE


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


@dataclass
class VitalEvents:
    """What the demography rules did in one year.

    Attributes
    ----------
    dead : numpy.ndarray of intp
        Rows of the persons who died.
    born : numpy.ndarray of int
        Rows of the newborns.
    new_households : numpy.ndarray of int
        Rows of the households formed by leavers.
    born_outside : int
        Newborns whose mother lives outside the county (born there).
    """

    dead: np.ndarray
    born: np.ndarray
    new_households: np.ndarray
    born_outside: int = 0


def vital_events(persons: Table, households: Table, q: np.ndarray, f: np.ndarray,
                 formation_rate: float, rng: np.random.Generator) -> VitalEvents:
    """Ageing, deaths, births and household formation of one year, in this order.

    The living age one year, then die with probability ``q`` by age; surviving women aged
    15–49 give birth with probability ``f`` by age, the newborn (female with probability
    100/211, sex ratio at birth 111, assumption, Shanxi-like) joining the mother's household
    and location; then adults aged 22–35 living with a member at least 18 years older leave
    with probability ``formation_rate`` to form their own household (:func:`form_households`).
    The random draws are those of the former NumPy rules, in the same order: one uniform per
    living person (row order), one per woman aged 15–49, one per newborn (sex), one per leaver
    candidate (one compiled call, :func:`urban_sim.population.vital_kernels.vital_draws`).

    Parameters
    ----------
    q : numpy.ndarray, shape (MAX_AGE + 1,)
        Probability of dying within the year by age (already scaled by the mortality multiplier).
    f : numpy.ndarray, shape (MAX_AGE + 1,)
        Births per woman per year by age (already scaled by the fertility multiplier).
    formation_rate : float
        Yearly probability that a candidate leaves.
    """
    P = persons
    dead, moms, girls, leaving, kids = vk.vital_draws(
        P.age, P.alive, P.female, P.hh, q, f, 100 / 211,  # sex ratio at birth 111 (assumption)
        len(households), 18, formation_rate, rng)
    first_newborn = len(P)
    born, abroad = vk.add_newborns(P, moms, girls, LOC_OUTSIDE)  # age 0, not trained
    new = form_households(P, households, leaving, kids, first_newborn)
    return VitalEvents(dead, born, new, abroad)


def form_households(persons: Table, households: Table, leavers: np.ndarray, kids: np.ndarray,
                    first_newborn: int) -> np.ndarray:
    """Leavers form their own household and take along their own children.

    The new household keeps the home village and hukou type of the old one, holds no land of
    its own and has its base where the leaver lives. A child (a row of ``kids`` or a newborn,
    row ``first_newborn`` on) whose mother is a leaver moves with her.

    Parameters
    ----------
    leavers : numpy.ndarray of intp
        Ascending rows of the leavers.
    kids : numpy.ndarray of intp
        Rows of the living persons under 18 born before this year.
    first_newborn : int
        First row of this year's newborns.

    Returns
    -------
    numpy.ndarray
        Row indices of the new households.
    """
    if not len(leavers):
        return np.zeros(0, dtype=np.int64)
    new = vk.add_households(persons, households, leavers)  # no land tie, nothing rented; 0 years
    vk.follow_mothers(kids, first_newborn, persons.mother, persons.hh, leavers, new)
    return new
