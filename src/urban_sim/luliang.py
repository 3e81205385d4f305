"""The plan's central 2025 aim: infrastructure and public services at the Lüliang average.

The plan (临政办发〔2024〕37号, 工作目标) says that by the end of 2025 the county's infrastructure and
public-service facilities should strive to reach the city (Lüliang) average
(基础设施和公共服务设施力争达到市平均水平). The model compares six per-capita levels of the main
facilities with Lüliang averages from ``luliang_averages.csv`` (sourced values or labelled
assumptions) and outputs each ratio ``x_vs_luliang`` = county level / Lüliang average (≥ 1 at or
above the average); ``plan_targets.csv`` codes the aim as ``x_vs_luliang ≥ 1`` in 2025.

| output | county level | Lüliang average (``luliang_averages.csv``) |
|---|---|---|
| school_seats_vs_luliang | compulsory-school seats / pupils aged 6–14 | seats per pupil |
| hospital_beds_vs_luliang | hospital beds per 1,000 residents | beds per 1,000 |
| care_beds_vs_luliang | public care beds per 1,000 aged 60+ | beds per 1,000 aged 60+ |
| seat_water_vs_luliang | county-seat public water coverage (capped at 1) | coverage of county seats |
| seat_roads_vs_luliang | county-seat road network density, km/km² | km/km² |
| parks_vs_luliang | park area per county-seat resident, m² (= public-space index × ``park_m2_per_index``) | m² per resident |
"""

from __future__ import annotations

import functools
import math
import operator
from pathlib import Path

from urban_sim.policy.relocation import read_items
from urban_sim.services.stocks import Stocks

ITEMS = ("school_seats_per_pupil", "hospital_beds_per_1000", "care_beds_per_1000_aged_60_plus",
         "seat_water_coverage", "seat_road_density_km_per_km2", "park_area_m2_per_resident",
         "park_m2_per_index")

FEEDS: dict[str, str] = {
    "school_seats_vs_luliang": "school_seats_seat",
    "hospital_beds_vs_luliang": "hospital_beds",
    "care_beds_vs_luliang": "care_beds_nursing",
    "seat_water_vs_luliang": "seat_water_served",
    "seat_roads_vs_luliang": "seat_road_km",
    "parks_vs_luliang": "public_space_quality",
}
"""The stock whose programmes move each comparison (for the policy-lag flag of its target)."""


@functools.lru_cache(maxsize=8)
def read_averages(data_dir: Path, year: int) -> dict[str, float] | None:
    """Lüliang averages (latest year ≤ ``year``); None without ``luliang_averages.csv``. Read once
    per folder and year (the caller must not change the returned dict)."""
    return read_items(data_dir, "luliang_averages", ITEMS, year)


def comparison(stocks: Stocks, groups: dict[str, float], avg: dict[str, float] | None) -> dict[str, float]:
    """Park area per resident (m²) and the six ratios to the Lüliang average (see module table);
    empty without averages, NaN where a group is empty."""
    if avg is None:
        return {}
    try:
        return dict(zip(COMPARISON_NAMES, comparison_row(stocks.value, groups, avg)))
    except KeyError:
        for name in STOCKS_READ:
            stocks[name]  # raises DataError for a stock not in stocks.csv
        raise


STOCKS_READ = ("public_space_quality", "school_seats_seat", "school_seats_other", "hospital_beds",
               "care_beds_nursing", "care_beds_other", "seat_water_served", "seat_road_km")
"""Stocks :func:`comparison_row` reads."""


COMPARISON_NAMES = ("park_area_per_resident_m2", *FEEDS)
"""Names of the values of :func:`comparison_row`, in order (the keys of :func:`comparison`)."""


def comparison_row(s: dict[str, float], g: dict[str, float], avg: dict[str, float]) -> list[float]:
    """The values of :func:`comparison` as a list, in the order of :data:`COMPARISON_NAMES`.

    Parameters
    ----------
    s : dict[str, float]
        Stock values (``Stocks.value``; KeyError if one read here is missing).
    g : dict[str, float]
        Population groups.
    avg : dict[str, float]
        Lüliang averages (:func:`read_averages`, not None).
    """
    nan = math.nan
    park = s["public_space_quality"] * avg["park_m2_per_index"]
    pupils, residents, old, seat, built_up = _read_groups(g)
    seats, beds, care, water, road = (s["school_seats_seat"] + s["school_seats_other"], s["hospital_beds"],
                                      s["care_beds_nursing"] + s["care_beds_other"],
                                      s["seat_water_served"], s["seat_road_km"])
    water = water / seat * 1.0 if seat > 0 else nan  # _per written out, then min(v, 1.0)
    level = (seats / pupils * 1.0 if pupils > 0 else nan,
             beds / residents * 1000 if residents > 0 else nan,
             care / old * 1000 if old > 0 else nan,
             1.0 if 1.0 < water else water,
             road / built_up * 1.0 if built_up > 0 else nan,
             park)
    out = [park]
    for value, a in zip(level, _read_averages(avg)):
        out.append(value / a if a > 0 else nan)
    return out


_read_groups = operator.itemgetter("pupils", "residents", "age_60_plus", "seat_residents",
                                   "seat_built_up_km2")
_read_averages = operator.itemgetter(
    "school_seats_per_pupil", "hospital_beds_per_1000", "care_beds_per_1000_aged_60_plus",
    "seat_water_coverage", "seat_road_density_km_per_km2", "park_area_m2_per_resident")
