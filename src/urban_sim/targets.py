"""The plan's quantitative targets as objects, the indicators behind them, and attainment.

Every target of the Lin County action plan (临政办发〔2024〕37号; list in ``plan_targets.csv``)
is computed every simulated year from the model's stocks and simulated population. Indicators
that depend on where people live divide a served capacity by the simulated population group
(e.g. county-seat water coverage = persons the seat's supply serves / county-seat residents),
so fast in-migration lowers them unless investment keeps up.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from urban_sim.services.stocks import Stocks

_OPS = {">=": operator.ge, "<=": operator.le}

STOCK_OF_INDICATOR: dict[str, str] = {
    "logistics_coverage": "logistics_coverage",
    "commercial_streets": "commercial_streets",
    "lifeline_monitoring_coverage": "lifeline_monitoring_coverage",
    "rural_scale_water_share": "rural_scale_water_served",
    "rural_tap_water_rate": "rural_tap_water_served",
    "seat_water_coverage": "seat_water_served",
    "water_leakage_rate": "water_leakage_rate",
    "rural_sewage_treatment_rate": "rural_sewage_served",
    "town_sewage_coverage": "town_sewage_facilities",
    "township_grade3_road_share": "grade3_road_townships",
    "road_network_density": "seat_road_km",
    "parking_ratio": "parking_spaces",
    "self_built_housing_rectified": "self_built_housing_rectified",
    "reclaimed_water_rate": "reclaimed_water_rate",
    "green_building_share": "green_building_share",
    "prefab_building_share": "prefab_building_share",
    "special_ed_enrollment": "special_ed_seats",
    "vocational_compliance": "vocational_compliance",
    "nursing_bed_share": "care_beds_nursing",
    "village_elderly_facility_coverage": "village_elderly_facilities",
    "inclusive_childcare_share": "childcare_places_inclusive",
    "good_hospitals": "good_hospitals",
    "historic_vacancy_rate": "historic_vacancy_rate",
    "coverage_5g": "coverage_5g",
    "idle_land_cleared": "idle_land_cleared",
    "village_delivery_coverage": "village_delivery_coverage",
    "township_commerce_centre_share": "township_commerce_centres",
    "cold_chain_coverage": "cold_chain_coverage",
    "municipal_safety_survey_done": "municipal_safety_survey_done",
    "seat_old_mains_renewed": "seat_old_mains_renewed",
    "water_source_class3_share": "water_source_class3_share",
    "water_source_zones_delineated": "water_source_zones_delineated",
    "scenic_mining_road_coverage": "scenic_mining_road_coverage",
    "village_waste_sorting_share": "village_waste_sorting_share",
    "good_high_schools": "good_high_schools",
    "online_employment_service_coverage": "online_employment_service_coverage",
    "heritage_plans_done": "heritage_plans_done",
    "enforcement_pilot_townships": "enforcement_pilot_townships",
}
"""The stock that programmes add to in order to move each target indicator."""

INDICATOR_OF_STOCK: dict[str, str] = {v: k for k, v in STOCK_OF_INDICATOR.items()}
"""The target indicator that each stock moves (inverse of :data:`STOCK_OF_INDICATOR`)."""


@dataclass(frozen=True)
class Target:
    """One quantitative target of the plan.

    Attributes
    ----------
    indicator : str
        Indicator id (model.md §6).
    year : int
    operator : str
        ``>=``, ``<=`` or ``between`` (``target <= value <= target_high``).
    target, target_high : float
        Target value (shares as fractions 0–1); ``target_high`` only for ``between``.
    task_area : str
    policy_can_act_from : int
        First year in which investment started by the policy (from ``policy.start_year``) can
        complete and move the indicator: policy start + the shortest lag of the programmes
        that feed it (0 when unknown: never flagged). See :func:`policy_can_act_from`.
    """

    indicator: str
    year: int
    operator: str
    target: float
    target_high: float
    task_area: str
    policy_can_act_from: int = 0

    @property
    def decided_before_policy(self) -> bool:
        """True when the target year comes before any policy-funded project can complete, so
        the value is fixed by history (plan and baseline differ only through population)."""
        return self.year < self.policy_can_act_from

    def shortfall(self, value: float) -> float:
        """Distance from ``value`` to the target's side, in the indicator's unit (0 when met,
        NaN when ``value`` is NaN)."""
        if value is None or math.isnan(value):
            return math.nan
        if self.operator == ">=":
            return max(0.0, self.target - value)
        if self.operator == "<=":
            return max(0.0, value - self.target)
        return max(0.0, self.target - value, value - self.target_high)

    def score(self, value: float) -> float:
        """Attainment in [0, 1]: ``min(1, value/target)`` for ``>=``, ``min(1, target/value)``
        for ``<=``, ``1 − shortfall/|target|`` (≥ 0) for ``between``; NaN for NaN."""
        if value is None or math.isnan(value):
            return math.nan
        if self.operator == ">=":
            return 1.0 if self.target <= 0 else min(1.0, max(value, 0.0) / self.target)
        if self.operator == "<=":
            return 1.0 if value <= self.target else self.target / value
        return max(0.0, 1.0 - self.shortfall(value) / (abs(self.target) or 1.0))

    def met(self, value: float) -> bool | None:
        """Whether ``value`` meets the target (None when ``value`` is NaN)."""
        if value is None or math.isnan(value):
            return None
        if self.operator == "between":
            return self.target - 1e-9 <= value <= self.target_high + 1e-9
        return bool(_OPS[self.operator](value + (1e-9 if self.operator == ">=" else -1e-9), self.target))


STARTED_INDICATORS = {"town_sewage_started": "town_sewage_facilities"}
"""Indicators that count a facility once it is funded (under construction), not completed."""


def policy_can_act_from(indicator: str, programmes: pd.DataFrame, policy_start_year: int) -> int:
    """First year a project funded from ``policy_start_year`` can complete and move ``indicator``.

    ``policy_start_year`` + the shortest ``lag_years`` of the programmes whose ``stock`` feeds the
    indicator (lag 0 for indicators that count funded projects, :data:`STARTED_INDICATORS`).
    Governance may shorten lags by up to a year in the model; this is not assumed here.
    Indicators no programme feeds return ``policy_start_year``.
    """
    if indicator in STARTED_INDICATORS:
        return policy_start_year
    from urban_sim.luliang import FEEDS

    stock = STOCK_OF_INDICATOR.get(indicator) or FEEDS.get(indicator, indicator)
    lags = programmes.loc[programmes["stock"] == stock, "lag_years"]
    return policy_start_year + (int(lags.min()) if len(lags) else 0)


def load_targets(plan_targets: pd.DataFrame, *, programmes: pd.DataFrame | None = None,
                 policy_start_year: int | None = None) -> list[Target]:
    """Targets from ``plan_targets.csv`` rows.

    With ``programmes`` (``programmes.csv``) and ``policy_start_year``, each target knows the
    first year the policy can act on it (:attr:`Target.decided_before_policy`).

    Raises
    ------
    ValueError
        If an operator is not one of ``>=``, ``<=``, ``between``.
    """
    out = []
    for r in plan_targets.itertuples():
        if r.operator not in ("between", *_OPS):
            raise ValueError(f"plan_targets.csv: operator {r.operator!r} of {r.indicator} not allowed")
        high = float(r.target_high) if not pd.isna(r.target_high) else math.nan
        first = (policy_can_act_from(r.indicator, programmes, int(policy_start_year))
                 if programmes is not None and policy_start_year is not None else 0)
        out.append(Target(r.indicator, int(r.year), r.operator, float(r.target), high, r.task_area,
                          first))
    return out


def scenario_targets(scenario, data) -> list[Target]:
    """Targets of ``data`` with the policy lags of ``scenario`` (its ``policy.start_year``)."""
    start = scenario.policy.start_year
    return list(data.memo(("targets", start), lambda: load_targets(
        data.plan_targets, programmes=data.programmes, policy_start_year=start)))


def _ratio(num: float, den: float, cap: float | None = 1.0) -> float:
    if den <= 0:
        return math.nan
    v = num / den
    return min(v, cap) if cap is not None else v


SHARE_INDICATORS = (
    "logistics_coverage", "lifeline_monitoring_coverage", "self_built_housing_rectified",
    "reclaimed_water_rate", "green_building_share", "prefab_building_share",
    "vocational_compliance", "coverage_5g", "idle_land_cleared", "water_leakage_rate",
    "historic_vacancy_rate", "village_delivery_coverage", "cold_chain_coverage",
    "municipal_safety_survey_done", "seat_old_mains_renewed", "water_source_class3_share",
    "water_source_zones_delineated", "scenic_mining_road_coverage", "village_waste_sorting_share",
    "online_employment_service_coverage", "heritage_plans_done",
)
"""Indicators that are a progress share stock itself."""

COUNT_INDICATORS = ("commercial_streets", "good_hospitals", "good_high_schools",
                    "enforcement_pilot_townships")
"""Indicators that count whole facilities or units (fractions of a unit do not count)."""


def target_tops(targets: list[Target]) -> dict[str, float]:
    """Highest target value of each indicator (``target_high`` of a ``between`` target)."""
    top: dict[str, float] = {}
    for t in targets:
        top[t.indicator] = max(top.get(t.indicator, 0.0),
                               t.target_high if t.operator == "between" else t.target)
    return top


def sites(top: dict[str, float], groups: dict[str, float], n_big_towns: int) -> dict[str, float]:
    """Number of sites of each counted-facility stock: programmes stop buying there.

    Town sewage plants: the larger of the towns of 2000+ residents and the number the plan
    starts (nine towns, ``town_sewage_started``); township commerce centres: one per non-seat
    township-level unit; pilot townships: the plan's upper bound (2); otherwise the target
    value plus one (a second good hospital or high school is allowed but not sought).

    Parameters
    ----------
    top : dict[str, float]
        Highest target of each indicator (:func:`target_tops`).
    """
    return {
        "town_sewage_facilities": float(max(n_big_towns, top.get("town_sewage_started", 1), 1)),
        "grade3_road_townships": groups["n_other_townships"],
        "village_elderly_facilities": groups["n_villages"],
        "township_commerce_centres": groups["n_other_townships"],
        "good_hospitals": top.get("good_hospitals", 1.0) + 1.0,
        "good_high_schools": top.get("good_high_schools", 1.0) + 1.0,
        "commercial_streets": 5.0,
        "enforcement_pilot_townships": top.get("enforcement_pilot_townships", 2.0),
    }


def queued_by_stock(stock_of_programme: list[str], queued_units: np.ndarray) -> dict[str, float]:
    """Stock additions under construction (funded, not yet complete), by stock.

    Parameters
    ----------
    stock_of_programme : list of str, length n_programmes
    queued_units : numpy.ndarray, shape (n_programmes,)
        Units in the pipeline times unit size.
    """
    names, code = _stock_codes(tuple(stock_of_programme))
    sums = np.bincount(code, weights=np.asarray(queued_units, float), minlength=len(names))
    return dict(zip(names, sums.tolist(), strict=True))


@functools.lru_cache(maxsize=16)
def _stock_codes(stocks: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(dict.fromkeys(stocks))  # each stock once, in order of first appearance
    index = {name: i for i, name in enumerate(names)}
    code = np.array([index[s] for s in stocks], dtype=np.intp)
    code.flags.writeable = False  # shared by every call
    return names, code


def indicator_values(stocks: Stocks, groups: dict[str, float], n_big_towns: int,
                     queued: dict[str, float] | None = None) -> dict[str, float]:
    """Value of every target indicator from stocks and population groups.

    Parameters
    ----------
    stocks : Stocks
    groups : dict[str, float]
        Simulated population groups (full-population scale): ``rural_residents``,
        ``seat_residents``, ``disabled_children``, ``vehicles``, ``seat_built_up_km2``,
        ``n_villages``, ``n_other_townships``.
    n_big_towns : int
        Town centres (designated towns other than the county seat) with at least 2000
        residents: the plan's "小城镇" whose sewage coverage is targeted.
    queued : dict[str, float], optional
        Additions under construction by stock (:func:`queued_by_stock`); town sewage plants
        under construction count as started (``town_sewage_started``).

    Returns
    -------
    dict[str, float]
        Shares as fractions 0–1; NaN where the denominator group is empty (never inf).
    """
    return dict(zip(INDICATOR_NAMES, indicator_row(stocks, groups, n_big_towns, queued)))


def indicator_row(stocks: Stocks, groups: dict[str, float], n_big_towns: int,
                  queued: dict[str, float] | None = None) -> list[float]:
    """The values of :func:`indicator_values` as a list, in the order of
    :data:`INDICATOR_NAMES` (the yearly outputs read them so: no dict a year).

    Parameters
    ----------
    stocks, groups, n_big_towns, queued
        As :func:`indicator_values`.

    Returns
    -------
    list of float
        Counted facilities as int (``math.floor``), as in :func:`indicator_values`.

    Raises
    ------
    DataError
        If a stock read here is not in ``stocks.csv``.
    """
    s = stocks.value
    try:
        return _indicator_row(s, groups, n_big_towns, queued)
    except KeyError:
        missing = [n for n in _STOCKS_READ if n not in s]
        if missing:
            stocks[missing[0]]  # raises DataError
        raise


def _indicator_row(s: dict[str, float], groups: dict[str, float], n_big_towns: int,
                   queued: dict[str, float] | None) -> list[float]:
    # indicator_row of the stock values s (KeyError if one is missing), in INDICATOR_NAMES order;
    # _ratio written out (nan if den <= 0, else num / den, capped as min(v, 1.0) = 1.0 if
    # 1.0 < v else v): the same values without a call each
    floor, nan = math.floor, math.nan
    rural = groups["rural_residents"]
    towns = groups["n_other_townships"]
    seat, disabled = groups["seat_residents"], groups["disabled_children"]
    built_up, vehicles, villages = groups["seat_built_up_km2"], groups["vehicles"], groups["n_villages"]
    started = s["town_sewage_facilities"] + (queued or {}).get("town_sewage_facilities", 0.0)
    (commerce, scale_water, tap, seat_water, sewage, special, grade3, road, parking, nursing,
     care_other, elderly, inclusive, childcare_other) = _read_ratio_stocks(s)
    no_rural = rural <= 0
    out = [*_read_shares(s), *[floor(v + 1e-9) for v in _read_counts(s)], floor(started + 1e-9)]
    for v in (
        nan if towns <= 0 else commerce / towns,
        nan if no_rural else scale_water / rural,
        nan if no_rural else tap / rural,
        nan if seat <= 0 else seat_water / seat,
        nan if no_rural else sewage / rural,
        nan if disabled <= 0 else special / disabled,
    ):
        out.append(1.0 if 1.0 < v else v)
    out.append(1.0 if n_big_towns == 0 else min(s["town_sewage_facilities"], n_big_towns) / n_big_towns)
    v = nan if towns <= 0 else grade3 / towns
    out += (1.0 if 1.0 < v else v, nan if built_up <= 0 else road / built_up,
            nan if vehicles <= 0 else parking / vehicles)
    for num, den in ((nursing, nursing + care_other), (elderly, villages),
                     (inclusive, inclusive + childcare_other)):
        v = nan if den <= 0 else num / den
        out.append(1.0 if 1.0 < v else v)
    return out


INDICATOR_NAMES = (
    *SHARE_INDICATORS, *COUNT_INDICATORS, "town_sewage_started", "township_commerce_centre_share",
    "rural_scale_water_share", "rural_tap_water_rate", "seat_water_coverage",
    "rural_sewage_treatment_rate", "special_ed_enrollment", "town_sewage_coverage",
    "township_grade3_road_share", "road_network_density", "parking_ratio", "nursing_bed_share",
    "village_elderly_facility_coverage", "inclusive_childcare_share")
"""Names of the values of :func:`indicator_row`, in order (the keys of :func:`indicator_values`)."""
assert len(set(INDICATOR_NAMES)) == len(INDICATOR_NAMES)


_STOCKS_READ = tuple(dict.fromkeys((
    *SHARE_INDICATORS, *(STOCK_OF_INDICATOR[k] for k in COUNT_INDICATORS), "town_sewage_facilities",
    "township_commerce_centres", "rural_scale_water_served", "rural_tap_water_served",
    "seat_water_served", "rural_sewage_served", "special_ed_seats", "grade3_road_townships",
    "seat_road_km", "parking_spaces", "care_beds_nursing", "care_beds_other",
    "village_elderly_facilities", "childcare_places_inclusive", "childcare_places_other")))
"""Stocks :func:`indicator_values` reads, in the order it reads them."""
_read_shares = operator.itemgetter(*SHARE_INDICATORS)
_read_counts = operator.itemgetter(*(STOCK_OF_INDICATOR[k] for k in COUNT_INDICATORS))
_read_ratio_stocks = operator.itemgetter(
    "township_commerce_centres", "rural_scale_water_served", "rural_tap_water_served",
    "seat_water_served", "rural_sewage_served", "special_ed_seats", "grade3_road_townships",
    "seat_road_km", "parking_spaces", "care_beds_nursing", "care_beds_other",
    "village_elderly_facilities", "childcare_places_inclusive", "childcare_places_other")


RATIO_PARTS: dict[str, tuple[str, str]] = {
    "rural_scale_water_share": ("rural_scale_water_served", "rural_residents"),
    "rural_tap_water_rate": ("rural_tap_water_served", "rural_residents"),
    "seat_water_coverage": ("seat_water_served", "seat_residents"),
    "rural_sewage_treatment_rate": ("rural_sewage_served", "rural_residents"),
    "special_ed_enrollment": ("special_ed_seats", "disabled_children"),
    "township_grade3_road_share": ("grade3_road_townships", "n_other_townships"),
    "village_elderly_facility_coverage": ("village_elderly_facilities", "n_villages"),
    "township_commerce_centre_share": ("township_commerce_centres", "n_other_townships"),
}
"""Target indicators shown capped at 100 %: served capacity (stock) / group (denominator)."""

_RATIO_OUTPUTS = tuple((ind, n, d, f"{ind}_uncapped", f"{ind}_investment_effect",
                        f"{ind}_population_effect") for ind, (n, d) in RATIO_PARTS.items())
"""Each indicator of :data:`RATIO_PARTS`, its parts and the names of its three outputs."""


class RatioDecomposition:
    """Uncapped ratios of the capped target indicators and the split of their change.

    For an indicator ``r = N / D`` (capacity stock over population group), the change since the
    reference year 0 splits exactly into an investment effect at fixed population and a
    population effect at the new capacity::

        N_t/D_t − N_0/D_0 = (N_t − N_0)/D_0  +  (N_t/D_t − N_t/D_0)
                            investment         population

    Parameters
    ----------
    reference_year : int
        Year 0 of the decomposition: the year before ``policy.start_year`` (the last year
        history alone decides), or the run's first year if that is later.

    Outputs (per indicator ``x`` of :data:`RATIO_PARTS`): ``x_uncapped`` (N/D, may exceed 1),
    ``x_investment_effect`` and ``x_population_effect`` (NaN before the reference year, 0 in it).
    """

    def __init__(self, reference_year: int) -> None:
        self.reference_year = reference_year
        self._base: dict[str, tuple[float, float]] = {}

    def values(self, year: int, stocks: Stocks, groups: dict[str, float]) -> dict[str, float]:
        """Outputs of one year (see class docstring)."""
        return dict(zip(RATIO_NAMES, self.row(year, stocks, groups)))

    def row(self, year: int, stocks: Stocks, groups: dict[str, float]) -> list[float]:
        """The values of :meth:`values` as a list, in the order of :data:`RATIO_NAMES`.

        Raises
        ------
        DataError
            If a stock of :data:`RATIO_PARTS` is not in ``stocks.csv``.
        """
        s = stocks.value
        try:  # the stocks checked only when one is missing
            nums = _read_nums(s)
        except KeyError:
            stocks[next(n for n, _ in RATIO_PARTS.values() if n not in s)]  # raises DataError
            raise
        dens = _read_dens(groups)
        if year == self.reference_year:
            self._base = dict(zip(RATIO_PARTS, zip(nums, dens)))
        nan = math.nan
        out = []
        if year >= self.reference_year and self._base:  # the base of every indicator
            for (n0, d0), num, den in zip(self._base.values(), nums, dens):
                if d0 > 0 and den > 0:
                    out += (num / den, (num - n0) / d0, num / den - num / d0)
                else:
                    out += (num / den if den > 0 else nan, nan, nan)  # uncapped: _ratio without a cap
        else:
            for num, den in zip(nums, dens):
                out += (num / den if den > 0 else nan, nan, nan)
        return out


RATIO_NAMES = tuple(name for parts in _RATIO_OUTPUTS for name in parts[3:])
"""Names of the values of :meth:`RatioDecomposition.row`, in order."""
_read_nums = operator.itemgetter(*(n for n, _ in RATIO_PARTS.values()))
_read_dens = operator.itemgetter(*(d for _, d in RATIO_PARTS.values()))


def attainment(targets: list[Target], values: pd.DataFrame) -> pd.DataFrame:
    """Target table of one run.

    Parameters
    ----------
    targets : list of Target
    values : pandas.DataFrame
        County indicator values with columns ``year, indicator, value``.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator, year, operator, target, target_high, task_area, value, met,
        decided_before_policy, uncapped, investment_effect, population_effect`` (the last
        three NaN for indicators that are not capped ratios, see :class:`RatioDecomposition`);
        value NaN and met NA when the run does not reach the target year.
    """
    lookup = values.set_index(["indicator", "year"])["value"].to_dict()
    rows = []
    for t in targets:
        v = float(lookup.get((t.indicator, t.year), math.nan))
        met = t.met(v)
        def extra(suffix, t=t):
            return float(lookup.get((f"{t.indicator}_{suffix}", t.year), math.nan))
        rows.append({
            "indicator": t.indicator, "year": t.year, "operator": t.operator,
            "target": t.target, "target_high": t.target_high, "task_area": t.task_area,
            "value": v, "met": pd.NA if met is None else met,
            "decided_before_policy": t.decided_before_policy,
            "uncapped": extra("uncapped"), "investment_effect": extra("investment_effect"),
            "population_effect": extra("population_effect"),
        })
    return pd.DataFrame(rows)
