"""Scalar outputs of a county run for sensitivity analysis (target values, met, shortfall,
composite score, headline outcomes)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from urban_sim.errors import ConfigError

HEADLINE = ("urbanization_rate", "county_seat_population", "jobs_nonfarm")
"""Headline outcomes reported next to the targets (at 2027, or the last simulated year)."""

HEADLINE_YEAR = 2027

_OUTPUT = re.compile(r"^(?P<ind>.+)_(?P<year>\d{4})(?P<suffix>_met|_shortfall)?$")


def default_outputs(targets, start_year: int, end_year: int) -> list[str]:
    """Every target reached by ``end_year`` (value, ``_met``, ``_shortfall``), the composite
    ``attainment_score`` and the headline outcomes at 2027 (or ``end_year`` if earlier)."""
    names = []
    for t in targets:
        if start_year < t.year <= end_year:
            names += [f"{t.indicator}_{t.year}", f"{t.indicator}_{t.year}_met",
                      f"{t.indicator}_{t.year}_shortfall"]
    if names:
        names.append("attainment_score")
    year = min(HEADLINE_YEAR, end_year)
    return names + [f"{h}_{year}" for h in HEADLINE]


def check_outputs(names: list[str], targets, start_year: int, end_year: int) -> None:
    """Raise ConfigError for an output that cannot be computed from a run."""
    keys = {(t.indicator, t.year) for t in targets}
    for name in names:
        if name == "attainment_score":
            continue
        m = _OUTPUT.match(name)
        if not m:
            raise ConfigError(f"output {name!r}: use INDICATOR_YEAR (e.g. urbanization_rate_2027), "
                              "INDICATOR_YEAR_met, INDICATOR_YEAR_shortfall or attainment_score")
        year = int(m["year"])
        if not start_year < year <= end_year:
            raise ConfigError(f"output {name!r}: year {year} is outside the simulated years "
                              f"{start_year + 1}-{end_year}")
        if m["suffix"] and (m["ind"], year) not in keys:
            raise ConfigError(f"output {name!r}: there is no plan target for {m['ind']} in {year}")


def target_score(t, value: float) -> tuple[float, float, float]:
    """``(met, shortfall, score)`` of one target.

    Notes
    -----
    ``met`` is 0 or 1. ``shortfall`` is the gap in the target's direction normalised by the
    target: ``max(0, target - value) / |target|`` for ``>=``, ``max(0, value - target) /
    |target|`` for ``<=``, the distance outside ``[low, high]`` over ``|low|`` for ``between``.
    ``score`` is ``min(1, value / target)`` for ``>=``, ``min(1, target / value)`` for ``<=``,
    ``max(0, 1 - shortfall)`` for ``between``. NaN values give NaN.
    """
    if math.isnan(value):
        return math.nan, math.nan, math.nan
    return float(bool(t.met(value))), t.shortfall(value) / (abs(t.target) or 1.0), t.score(value)


def county_outputs(timeseries: pd.DataFrame, targets, names: list[str]) -> dict[str, float]:
    """Scalar outputs of one county run (see :func:`default_outputs` for the names).

    Raises
    ------
    KeyError
        If an output's indicator is not in the timeseries.
    """
    county = timeseries[timeseries["place"] == "county"]
    lookup = dict(zip(zip(county["indicator"], county["year"]), county["value"], strict=True))
    indicators = set(county["indicator"])
    by_key = {(t.indicator, t.year): t for t in targets}
    years = set(county["year"])
    out: dict[str, float] = {}
    for name in names:
        if name == "attainment_score":
            scores = [target_score(t, float(lookup.get((t.indicator, t.year), math.nan)))[2]
                      for t in targets if t.year in years]
            out[name] = float(np.mean(scores)) if scores else math.nan
            continue
        m = _OUTPUT.match(name)
        ind, year = m["ind"], int(m["year"])
        if ind not in indicators:
            raise KeyError(f"output {name!r}: indicator {ind!r} is not in the model's timeseries")
        value = float(lookup.get((ind, year), math.nan))
        if m["suffix"]:
            met, gap, _ = target_score(by_key[(ind, year)], value)
            out[name] = met if m["suffix"] == "_met" else gap
        else:
            out[name] = value
    return out
