"""The county-level state a projection carries over from the simulated history.

A start state (:mod:`urban_sim.population.start_state`) holds, besides persons and households,
the state of places that the model reached in the start year when started from the first
census: stock values, job stocks by place and sector, dwellings, operating jobs of programmes,
perceived incomes and amenities (projects still under construction are not carried over). :func:`capture` reads them from a model and :func:`restore`
puts them into a new model, so a run from 2020 continues the 2010 → 2020 history instead of
re-initialising jobs, dwellings and services from the census-year tables. Every quantity here is
at full-population scale, so it applies at any ``scale``. A simulated stock value outside the
``[low, high]`` range that ``stocks.csv`` gives for the start year is limited to that range: the
data's range for the start year outranks a history the investment module got wrong.
"""

from __future__ import annotations

import math

import numpy as np

from urban_sim.services.stocks import GROUP_OF_STOCK

PREFIX = "m_"
"""Key prefix of model-state arrays in a start-state file."""

_GOVERNMENT = ("operating_jobs_by_area",)  # projects in flight are not carried over
_PERCEIVED = ("income", "amenity", "congestion")


def capture(model) -> dict[str, np.ndarray]:
    """Model-state arrays of ``model`` (keys start with :data:`PREFIX`)."""
    names = sorted(model.stocks.value)
    out = {"stock_names": np.array(names), "stock_values":
           np.array([model.stocks.value[n] for n in names], float),
           "jobs": model.labour.jobs, "chance": model.labour.chance, "housing": model.housing,
           "refused": model._refused}
    out.update({f"gov_{k}": getattr(model.government, k) for k in _GOVERNMENT})
    out.update({f"perceived_{k}": model.perceived[k] for k in _PERCEIVED})
    return {PREFIX + k: np.array(v, copy=True) for k, v in out.items()}


def restore_places(model, state: dict[str, np.ndarray]) -> None:
    """Put stocks, jobs, dwellings and pipelines of ``state`` into ``model`` (before the
    start year's indicators are computed). Stocks not in ``state`` keep their table value."""
    s = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    if not s:
        return
    ranges = model.data.memo(("stock_ranges", model.year), lambda: _ranges(model.data, model.year))
    stocks, groups = model.stocks.value, model.groups
    for name, value in zip(s["stock_names"].tolist(), s["stock_values"].tolist(), strict=True):
        if name not in stocks:
            continue
        lo, hi = -math.inf, math.inf
        if name in ranges:
            share, low, high = ranges[name]
            k = groups[GROUP_OF_STOCK[name]] if share else 1.0
            lo = low * k if low is not None else -math.inf
            hi = high * k if high is not None else math.inf
        stocks[name] = float(min(max(value, lo), hi))  # np.clip of a scalar
    if s["jobs"].shape == model.labour.jobs.shape:
        model.labour.jobs = s["jobs"].copy()
        model.labour.chance = s["chance"].copy()
    if s["housing"].shape == model.housing.shape:
        model.housing = s["housing"].copy()
        model._refused = s["refused"].copy()
    for k in _GOVERNMENT:
        cur = getattr(model.government, k)
        if s[f"gov_{k}"].shape == np.shape(cur):
            setattr(model.government, k, s[f"gov_{k}"].copy())


def _ranges(data, year: int) -> dict[str, tuple]:
    """(whether the unit is ``share_of_group``, low, high) of every stock in the table year of
    ``year``, a bound that is not finite as None (no stock has bounds without the columns)."""
    table = data.stock_values(year)
    if not {"low", "high"} <= set(table.columns):
        return {}
    out = {}
    for name in table.index:
        row = table.loc[name]
        low, high = (b if np.isfinite(b) else None for b in (row["low"], row["high"]))
        out[name] = (row["unit"] == "share_of_group", low, high)
    return out


def restore_perceived(model, state: dict[str, np.ndarray]) -> None:
    """Put the perceived (smoothed) incomes, amenities and congestion of ``state`` into
    ``model`` (after its initial perception)."""
    for k in _PERCEIVED:
        v = state.get(f"{PREFIX}perceived_{k}")
        if v is not None and v.shape == model.perceived[k].shape:
            model.perceived[k] = v.copy()
