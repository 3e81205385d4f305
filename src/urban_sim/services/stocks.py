"""Capacity and progress stocks of the county, and the amenity/congestion they imply.

A stock is a county-level quantity (beds, seats, served persons, km of road, a coverage share,
a quality index). Initial values come from ``stocks.csv``; a value with unit
``share_of_group`` is a coverage of a population group in the table year and is turned into a
count with the simulated group at the start. Programmes add to stocks; physical stocks
depreciate at their ``depreciation_rate_per_year``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from urban_sim.errors import DataError

GROUP_OF_STOCK: dict[str, str] = {
    "rural_scale_water_served": "rural_residents",
    "rural_tap_water_served": "rural_residents",
    "seat_water_served": "seat_residents",
    "rural_sewage_served": "rural_residents",
    "special_ed_seats": "disabled_children",
    "parking_spaces": "vehicles",
}
"""Population group (see ``CountyModel.groups``) that a served-capacity stock is measured against."""

SHARE_STOCKS = frozenset({
    "logistics_coverage", "lifeline_monitoring_coverage", "self_built_housing_rectified",
    "reclaimed_water_rate", "green_building_share", "prefab_building_share",
    "vocational_compliance", "coverage_5g", "idle_land_cleared", "water_leakage_rate",
    "historic_vacancy_rate", "environment_quality", "public_space_quality", "culture_quality",
    "tourism_capacity", "governance_efficiency", "flood_safety", "talent_return_support",
}) | frozenset({  # plan tasks 5, 6, 8, 12, 19, 26 (dated targets of 临政办发〔2024〕37号)
    "village_delivery_coverage", "cold_chain_coverage", "municipal_safety_survey_done",
    "seat_old_mains_renewed", "water_source_class3_share", "water_source_zones_delineated",
    "scenic_mining_road_coverage", "village_waste_sorting_share",
    "online_employment_service_coverage", "heritage_plans_done",
})
"""Stocks bounded to [0, 1]."""

HOUSING_STOCKS = ("housing_units_seat", "housing_units_towns")


class Stocks:
    """Current values of every stock (county level), with depreciation.

    Parameters
    ----------
    table : pandas.DataFrame
        ``stocks.csv`` rows for the start year, indexed by stock name.
    groups : dict[str, float]
        Population groups at the start (full-population scale), for ``share_of_group`` stocks.

    Raises
    ------
    DataError
        If a ``share_of_group`` stock has no known group.
    """

    def __init__(self, table: pd.DataFrame, groups: dict[str, float]) -> None:
        self.value: dict[str, float] = {}
        self.depreciation: dict[str, float] = {}
        for name, row in table.iterrows():
            v = float(row["value"])
            if row["unit"] == "share_of_group":
                if name not in GROUP_OF_STOCK:
                    raise DataError(f"stocks.csv: stock {name!r} has unit share_of_group but no group")
                v *= groups[GROUP_OF_STOCK[name]]
            self.value[str(name)] = v
            dep = row["depreciation_rate_per_year"]
            self.depreciation[str(name)] = 0.0 if pd.isna(dep) else float(dep)

    def __getitem__(self, name: str) -> float:
        try:
            return self.value[name]
        except KeyError:
            raise DataError(f"stocks.csv: no stock named {name!r}") from None

    def add(self, name: str, amount: float) -> None:
        """Add ``amount`` to a stock, keeping shares within [0, 1] and counts ≥ 0."""
        v = self[name] + amount
        self.value[name] = min(max(v, 0.0), 1.0) if name in SHARE_STOCKS else max(v, 0.0)

    def depreciate(self) -> None:
        """Apply one year of depreciation to every stock."""
        for name, rate in self.depreciation.items():
            if rate:
                self.value[name] *= 1.0 - rate


def amenity_and_congestion(
    stocks: Stocks,
    groups: dict[str, float],
    housing_use: np.ndarray,
    place_type: np.ndarray,
    params: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Service amenity ``A_j`` and congestion ``G_j`` by in-county place, each shape (n_places,).

    Parameters
    ----------
    housing_use : numpy.ndarray, shape (n_places,)
        Occupied / available dwellings (seat and town centres; ignored for village areas).
    place_type : numpy.ndarray of int, shape (n_places,)
        0 county seat, 1 town centre, 2 village area.

    Notes
    -----
    Amenity is an unweighted mean of 0–1 indices (assumption; weights are for calibration):
    county seat = environment, public space, culture, flood safety, beds per 1000 / 6 (2020
    national target, model_literature.md §8), school seats per pupil; towns = environment,
    half the public-space index, flood safety; villages = environment, tap-water and sewage
    coverage, village elderly-facility coverage.
    Congestion ``G = max(0, u − u*)^γ`` with utilisation ``u`` the larger of dwelling and
    (county seat) school-seat use (Forrester-like shape, ``u*`` and ``γ`` in parameters.csv).
    """
    env = stocks["environment_quality"]
    rural = max(groups["rural_residents"], 1.0)
    beds = min(1.0, stocks["hospital_beds"] / max(groups["residents"], 1.0) * 1000 / 6.0)
    school_use = groups["pupils_seat"] / max(stocks["school_seats_seat"], 1.0)
    seat = np.mean([
        env, stocks["public_space_quality"], stocks["culture_quality"], stocks["flood_safety"],
        beds, min(1.0, 1.0 / max(school_use, 1e-9)),
    ])
    town = np.mean([env, 0.5 * stocks["public_space_quality"], stocks["flood_safety"]])
    village = np.mean([
        env, min(1.0, stocks["rural_tap_water_served"] / rural),
        min(1.0, stocks["rural_sewage_served"] / rural),
        min(1.0, stocks["village_elderly_facilities"] / max(groups["n_villages"], 1.0)),
    ])
    amenity = np.array([seat, town, village])[place_type]
    use = np.where(place_type == 2, 0.0, housing_use)
    use = np.where(place_type == 0, np.maximum(use, school_use), use)
    congestion = np.maximum(0.0, use - params["congestion_threshold"]) ** params["congestion_curvature"]
    return amenity, congestion
