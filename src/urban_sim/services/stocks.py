"""Capacity and progress stocks of the county, and the amenity/congestion they imply.

A stock is a county-level quantity (beds, seats, served persons, km of road, a coverage share,
a quality index). Initial values come from ``stocks.csv``; a value with unit
``share_of_group`` is a coverage of a population group in the table year and is turned into a
count with the simulated group at the start. Programmes add to stocks; stocks depreciate at
their ``depreciation_rate_per_year``.

Bounded stocks (every 0–1 share or index, and every served capacity measured as a coverage of
its population group) have **diminishing returns**: a nominal increment ``d`` (programme units ×
unit size, in units of the share) moves the share ``x`` toward its ceiling ``hi`` as
``x' = min(hi, h − (h − x)·exp(−d / w))`` with ``w = (1 + m)·(hi − lo)``, ``h = lo + w`` and
``m`` the ``share_overshoot`` parameter. At the floor one unit buys its nominal increment (the
unit cost in ``programmes.csv``), at ``x`` the fraction ``(h − x)/w``, and the last points
toward the ceiling cost about ``1/m`` times the first (remote villages, the last households, the oldest pipes). Stocks that
programmes lower (water leakage, historic vacancy) approach their floor the same way. Assumption (labelled in parameters.csv): the exponential
form, the overshoot ``m``, floors and ceilings; the sensitivity analysis varies them.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator

import numpy as np
import pandas as pd

from urban_sim.errors import DataError
from urban_sim.population.kernels import _jit
from urban_sim.services.stock_kernels import _COUNT, _REMOTE, _SERVED, _SHARE, _add, _room

GROUP_OF_STOCK: dict[str, str] = {
    "rural_scale_water_served": "rural_residents",
    "rural_tap_water_served": "rural_residents",
    "seat_water_served": "seat_residents",
    "rural_sewage_served": "rural_residents",
    "special_ed_seats": "disabled_children",
    "parking_spaces": "vehicles",
    "childcare_places_inclusive": "childcare_demand",
}
"""Population group (see ``CountyModel.groups``) that a served-capacity stock is measured against
(``childcare_demand``: children aged 0–3 seeking a place, :mod:`urban_sim.services.childcare`)."""

SHARE_STOCKS = frozenset({
    "logistics_coverage", "lifeline_monitoring_coverage", "self_built_housing_rectified",
    "reclaimed_water_rate", "vocational_compliance", "coverage_5g", "idle_land_cleared", "water_leakage_rate",
    "historic_vacancy_rate", "public_space_quality", "culture_quality",
    "tourism_capacity", "governance_efficiency", "flood_safety", "talent_return_support",
}) | frozenset({  # plan tasks 5, 6, 8, 12, 19, 26 (dated targets of 临政办发〔2024〕37号)
    "village_delivery_coverage", "cold_chain_coverage", "municipal_safety_survey_done",
    "seat_old_mains_renewed", "water_source_class3_share", "water_source_zones_delineated",
    "scenic_mining_road_coverage", "village_waste_sorting_share",
    "online_employment_service_coverage", "heritage_plans_done",
}) | frozenset({  # plan tasks 9, 10, 12, 13, 14: the parts of the environment (issue 11)
    "ecological_restoration_index", "pollution_control_index", "waste_treatment_index",
    "clean_heating_share", "green_transport_index",
})
"""Stocks bounded to [0, 1] (or a narrower [floor, ceiling] from parameters.csv)."""

NEW_BUILDING_SHARES = ("green_building_share", "prefab_building_share")
"""Shares of the year's simulated new urban floor area (not stocks that can be bought outright):
``share = standard(t) + (1 − standard(t)) · min(1, funded m² / new m²)``
(:func:`urban_sim.policy.allocation.new_building_share`)."""

SERVED_PERSONS = frozenset(set(GROUP_OF_STOCK) - {"parking_spaces", "childcare_places_inclusive"})
"""Served capacities counted in persons served: they cannot exceed ``ceiling × group`` (capacity
left by people who moved away serves nobody, :meth:`Stocks.cap_served`). Parking spaces and
childcare places are built only up to their group but stay when it shrinks (they depreciate)."""

ENVIRONMENT_PARTS = ("ecological_restoration_index", "pollution_control_index",
                     "waste_treatment_index", "clean_heating_share", "green_transport_index")
"""Parts of the environment in amenity, one per plan task (9, 10, 12, 13, 14), each a bounded
stock funded by its own programme; weighted by ``environment.csv`` (sum 1)."""

SEAT_ONLY_PARTS = frozenset({"green_transport_index"})
"""Environment parts that count in the county seat's amenity only (buses, charging, walking)."""

REMOTE_SERVED = frozenset({"rural_scale_water_served", "rural_tap_water_served", "rural_sewage_served",
                           "seat_water_served"})
"""Served capacities with diminishing returns (the last villages served are the remotest, the last
county-seat households live on the hillsides and in urban villages); other served capacities
(school and special-education seats, parking) are linear up to their ceiling."""

LOWER_IS_BETTER = frozenset({"water_leakage_rate", "historic_vacancy_rate"})
"""Shares that programmes lower; their depreciation raises them (ageing pipes, vacated houses)."""

HOUSING_STOCKS = ("housing_units_seat", "housing_units_towns")


def bounds_from(params: dict[str, float]) -> dict[str, tuple[float, float]]:
    """[floor, ceiling] of every bounded stock in share units: 0–1 for shares unless
    parameters.csv has ``floor_<stock>`` / ``ceiling_<stock>``; coverage 0–``ceiling_<stock>``
    (default 1) for served capacities."""
    get = params.get
    return {name: (get(floor, 0.0), get(ceiling, 1.0)) for name, floor, ceiling in _BOUND_KEYS}


_BOUND_KEYS = tuple((name, f"floor_{name}", f"ceiling_{name}") for name in (*SHARE_STOCKS, *GROUP_OF_STOCK))
"""Each bounded stock and the names of its floor and ceiling parameters (:func:`bounds_from`)."""


def stock_rows(table: pd.DataFrame) -> tuple[tuple[str, float, str, float], ...]:
    """``(stock, value, unit, depreciation rate per year)`` of each row of ``table`` (pandas
    DataFrame: ``stocks.csv`` rows of one year indexed by stock name), in table order: what
    :class:`Stocks` reads of it."""
    return tuple(zip([str(n) for n in table.index.tolist()], table["value"].to_numpy(float).tolist(),
                     table["unit"].tolist(), table["depreciation_rate_per_year"].to_numpy(float).tolist(),
                     strict=True))


class Stocks:
    """Current values of every stock (county level), with diminishing returns and depreciation.

    Parameters
    ----------
    table : pandas.DataFrame or tuple
        ``stocks.csv`` rows for the start year, indexed by stock name, or those rows as
        :func:`stock_rows` reads them (once for many models).
    groups : dict[str, float]
        Population groups at the start (full-population scale), for ``share_of_group`` stocks.
    params : dict[str, float], optional
        ``share_overshoot`` and the ``floor_*`` / ``ceiling_*`` bounds (parameters.csv).

    Raises
    ------
    DataError
        If a ``share_of_group`` stock has no known group.
    """

    def __init__(self, table: pd.DataFrame | tuple, groups: dict[str, float],
                 params: dict[str, float] | None = None) -> None:
        params = params or {}
        self.bounds = bounds_from(params)
        self.overshoot = float(params.get("share_overshoot", 0.05))
        self.value: dict[str, float] = {}
        self._layouts: dict[tuple, tuple] = {}
        self._last: tuple = (None, None, None, None)  # the last key of layout() and its layout
        self.depreciation: list[tuple[str, float, bool]] = []  # (stock, rate, lower is better)
        for name, v, unit, dep in (table if isinstance(table, tuple) else stock_rows(table)):
            if unit == "share_of_group":
                if name not in GROUP_OF_STOCK:
                    raise DataError(f"stocks.csv: stock {name!r} has unit share_of_group but no group")
                v *= groups[GROUP_OF_STOCK[name]]
            self.value[name] = v
            if dep and not math.isnan(dep):
                self.depreciation.append((name, dep, name in LOWER_IS_BETTER))

    def __getitem__(self, name: str) -> float:
        try:
            return self.value[name]
        except KeyError:
            raise DataError(f"stocks.csv: no stock named {name!r}") from None

    def __setitem__(self, name: str, value: float) -> None:
        self.value[name] = float(value)

    def add_all(self, names: tuple[str, ...], amounts: np.ndarray, mask: np.ndarray,
                groups: dict[str, float] | None = None) -> None:
        """Add nominal ``amounts`` to the stocks ``names`` where ``mask``: bounded stocks
        (shares, and served capacities when ``groups`` is given) with diminishing returns
        (module docstring), served capacities measured against a group up to the group (times
        the ceiling), counts ≥ 0. The model's government phase does the same inside its
        compiled year (:meth:`urban_sim.policy.government.Government.invest_and_add`); this is
        the rule by itself (and the tests' reference).

        Parameters
        ----------
        names : tuple of str, length k
            Stock names (``stocks.csv``).
        amounts : numpy.ndarray of float, shape (k,)
            Nominal additions, in each stock's unit.
        mask : numpy.ndarray of bool, shape (k,)
            Where to add; the other stocks are not read or written.
        groups : dict of str to float, optional
            Size of each served population group (persons, full scale); without it served
            capacities are treated as counts.

        Raises
        ------
        DataError
            If a stock to add to is not in the table.
        """
        kind, group, group_names, lo, hi, _, present, read = self.layout(names, groups is not None)
        if present is not None and (missing := mask & ~present).any():  # None: all present
            raise DataError(f"stocks.csv: no stock named {names[int(np.argmax(missing))]!r}")
        g = [max(groups[n], 1e-9) for n in group_names] if groups is not None else [1.0]
        new = _add(read(self.value), amounts, mask, kind, group, np.array(g), lo, hi,
                   self.overshoot).tolist()
        self.value.update(itertools.compress(zip(names, new), mask.tolist()))  # present only

    def rooms(self, names: tuple[str, ...], groups: dict[str, float] | None = None) -> np.ndarray:
        """Nominal amount that can still usefully be added to each stock: up to the ceiling
        (down to the floor for :data:`LOWER_IS_BETTER`).

        Parameters
        ----------
        names : tuple of str, length k
            Stock names (``stocks.csv``).
        groups : dict of str to float, optional
            Size of each served population group (persons, full scale), as in :meth:`add_all`.

        Returns
        -------
        numpy.ndarray of float, shape (k,)
            Room in each stock's unit, ≥ 0; ``inf`` for unbounded stocks and stocks not in the
            table.
        """
        kind, group, group_names, lo, hi, lower, _, read = self.layout(names, groups is not None)
        value = self.value
        g = [max(groups[n], 1e-9) for n in group_names] if groups is not None else [1.0]
        return _room(read(value), kind, group, np.array(g), lo, hi, lower, self.overshoot)

    def layout(self, names: tuple[str, ...], with_groups: bool) -> tuple:
        """Kind, group index, group names, floor, ceiling, lower-is-better, presence (None: all
        in the table) of ``names``, and a reader of their values (an array, 0 for those not in
        the table); cached while no stock is added to the table."""
        last = self._last
        if last[0] is names and last[1] == with_groups and last[2] == len(self.value):
            return last[3]  # the same tuple as last time: no hash of its names
        key = (names, with_groups, len(self.value))
        out = self._layouts.get(key)
        if out is None:
            kind, group, group_names, lower = _kinds(names, with_groups)
            present = np.array([n in self.value for n in names], dtype=bool)
            bounds = [self.bounds.get(n, (0.0, 1.0)) for n in names]
            out = self._layouts[key] = (
                np.where(present, kind, _COUNT), group, group_names,
                np.array([b[0] for b in bounds], dtype=float),
                np.array([b[1] for b in bounds], dtype=float), lower,
                None if present.all() else present, _reader(names, present))
        self._last = (*key, out)
        return out

    def cap_served(self, groups: dict[str, float]) -> None:
        """Persons served cannot exceed the persons there are (times the ceiling)."""
        for name in SERVED_PERSONS:
            if name in self.value:
                cap = self.bounds[name][1] * max(groups[GROUP_OF_STOCK[name]], 0.0)
                self.value[name] = min(self.value[name], cap)

    def depreciate(self) -> None:
        """Apply one year of depreciation: counts and shares decay toward 0, shares that
        programmes lower drift up toward 1 (:data:`LOWER_IS_BETTER`)."""
        value = self.value
        for name, rate, lower in self.depreciation:
            if lower:
                value[name] += rate * (1.0 - value[name])
            else:
                value[name] *= 1.0 - rate


def _reader(names: tuple[str, ...], present: np.ndarray):
    """A function of the table (dict) giving the values of ``names`` as an array, 0.0 for those
    not ``present`` (``np.array([value.get(n, 0.0) for n in names])``)."""
    rows = np.flatnonzero(present)
    get = operator.itemgetter(*(names[i] for i in rows)) if len(rows) > 1 else None
    if get is None:
        return lambda value: np.array([value.get(n, 0.0) for n in names], dtype=float)
    if len(rows) == len(names):  # all present: their values in order
        return lambda value: np.array(get(value), dtype=float)
    def read(value):
        out = np.zeros(len(names))
        out[rows] = get(value)
        return out
    return read


def _kind(name: str, with_groups: bool) -> int:
    """Kind of a stock (:data:`_COUNT` …); served capacities are counts without groups."""
    if name in SHARE_STOCKS:
        return _SHARE
    if name in GROUP_OF_STOCK and with_groups:
        return _REMOTE if name in REMOTE_SERVED else _SERVED
    return _COUNT


@functools.lru_cache(maxsize=32)
def _kinds(names: tuple[str, ...], with_groups: bool
           ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Kind, population-group index, population groups and lower-is-better of ``names``."""
    kind = np.array([_kind(n, with_groups) for n in names], dtype=np.int64)
    served = [k in (_REMOTE, _SERVED) for k in kind.tolist()]
    group_names = list(dict.fromkeys(GROUP_OF_STOCK[n] for n, s in zip(names, served) if s))
    group = np.array([group_names.index(GROUP_OF_STOCK[n]) if s else 0
                      for n, s in zip(names, served)], dtype=np.int64)
    lower = np.array([n in LOWER_IS_BETTER for n in names], dtype=bool)
    for a in (kind, group, lower):
        a.flags.writeable = False  # shared by every Stocks
    return kind, group, tuple(group_names), lower


def environment_index(stocks: Stocks, weights: dict[str, float], seat: bool) -> float:
    """Weighted mean (0–1) of the :data:`ENVIRONMENT_PARTS`: in the county seat all parts, in
    towns and villages without :data:`SEAT_ONLY_PARTS` (their weight spread over the others).

    Parameters
    ----------
    weights : dict[str, float]
        Weight of each part (``environment.csv``, sum 1); equal weights if empty.
    seat : bool
        County seat (True) or towns and villages.
    """
    parts, w, total = _environment_weights(tuple(weights.items()), seat)
    return float(np.dot(w, [stocks[n] for n in parts]) / total)


@functools.lru_cache(maxsize=16)
def _environment_weights(weights: tuple[tuple[str, float], ...], seat: bool
                         ) -> tuple[tuple[str, ...], np.ndarray, float]:
    """Parts, their weights and the sum of the weights (:func:`environment_index`)."""
    parts = tuple(n for n in ENVIRONMENT_PARTS if seat or n not in SEAT_ONLY_PARTS)
    given = dict(weights)
    w = np.array([given.get(n, 1.0) if given else 1.0 for n in parts])
    w.flags.writeable = False  # shared by every call
    return parts, w, w.sum()


def amenity_and_congestion(
    stocks: Stocks,
    groups: dict[str, float],
    housing_use: np.ndarray,
    place_type: np.ndarray,
    params: dict[str, float],
    env_weights: dict[str, float] | None = None,
    environment: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Service amenity ``A_j`` and congestion ``G_j`` by in-county place, each shape (n_places,).

    Parameters
    ----------
    housing_use : numpy.ndarray, shape (n_places,)
        Occupied / available dwellings (seat and town centres; ignored for village areas).
    place_type : numpy.ndarray of int, shape (n_places,)
        0 county seat, 1 town centre, 2 village area.
    env_weights : dict[str, float], optional
        Weights of the environment parts (``environment.csv``; :func:`environment_index`).
    environment : tuple of float, optional
        The environment index of the county seat and of the other places with these weights,
        if already computed (:func:`environment_index`).

    Notes
    -----
    Amenity is an unweighted mean of 0–1 indices (assumption; weights are for calibration):
    county seat = environment (:func:`environment_index`: ecological repair, pollution control,
    waste treatment, clean heating, green transport, weighted), public space, culture, flood safety, beds per 1000 / 6 (2020
    national target, model_literature.md §8), school seats per pupil; towns = environment,
    half the public-space index, flood safety; villages = environment, tap-water and sewage
    coverage, village elderly-facility coverage.
    Congestion ``G = max(0, u − u*)^γ`` with utilisation ``u`` the larger of dwelling and
    (county seat) school-seat use (Forrester-like shape, ``u*`` and ``γ`` in parameters.csv).
    """
    env, env_rest = environment or (environment_index(stocks, env_weights or {}, seat)
                                    for seat in (True, False))
    rural = max(groups["rural_residents"], 1.0)
    beds = min(1.0, stocks["hospital_beds"] / max(groups["residents"], 1.0) * 1000 / 6.0)
    school_use = groups["pupils_seat"] / max(stocks["school_seats_seat"], 1.0)
    seat = _mean([
        env, stocks["public_space_quality"], stocks["culture_quality"], stocks["flood_safety"],
        beds, min(1.0, 1.0 / max(school_use, 1e-9)),
    ])
    town = _mean([env_rest, 0.5 * stocks["public_space_quality"], stocks["flood_safety"]])
    village = _mean([
        env_rest, min(1.0, stocks["rural_tap_water_served"] / rural),
        min(1.0, stocks["rural_sewage_served"] / rural),
        min(1.0, stocks["village_elderly_facilities"] / max(groups["n_villages"], 1.0)),
    ])
    amenity, excess = _amenity(place_type, np.array([seat, town, village]), housing_use, school_use,
                               params["congestion_threshold"])
    return amenity, excess ** params["congestion_curvature"]


def _mean(values: list[float]) -> float:
    """``np.mean(values)`` of fewer than 8 values without NumPy: its sum (0.0 plus the values
    added in order from −0.0, as its pairwise sum adds fewer than 8), divided by the count."""
    total = -0.0
    for v in values:
        total += v
    return (0.0 + total) / len(values)


def _amenity_loop(place_type, levels, housing_use, school_use, threshold):
    # amenity_and_congestion's NumPy rule place by place: the amenity of the place's type; the
    # use (0 in village areas, the larger of dwelling and school-seat use at the county seat,
    # NaN as np.maximum keeps it) above the threshold, at least 0 (np.maximum(0.0, ...))
    amenity, excess = np.empty(place_type.shape[0]), np.empty(place_type.shape[0])
    for j in range(place_type.shape[0]):
        k = place_type[j]
        amenity[j] = levels[k]
        u = 0.0 if k == 2 else housing_use[j]
        if k == 0 and not (u >= school_use or u != u):
            u = school_use
        x = u - threshold
        excess[j] = 0.0 if 0.0 >= x else x
    return amenity, excess


_amenity = _jit(_amenity_loop)


def compare_with_table(stocks: Stocks, groups: dict[str, float], table: pd.DataFrame) -> pd.DataFrame:
    """Simulated stocks against the ``[low, high]`` of a ``stocks.csv`` year (the backcast).

    Parameters
    ----------
    table : pandas.DataFrame
        ``stocks.csv`` rows of one year (columns ``stock, unit, low, high``).

    Returns
    -------
    pandas.DataFrame
        Columns ``stock, value, low, high, inside``; ``share_of_group`` stocks as coverage of
        their simulated group.
    """
    rows = []
    for r in table.itertuples():
        v = stocks[r.stock]
        if r.unit == "share_of_group":
            v /= max(groups[GROUP_OF_STOCK[r.stock]], 1e-9)
        rows.append((r.stock, v, float(r.low), float(r.high), float(r.low) <= v <= float(r.high)))
    return pd.DataFrame(rows, columns=["stock", "value", "low", "high", "inside"])
