"""Financing of public investment (plan task 36: special bonds, land revenue, debt service).

The plan asks the county to seek central budget funds and local-government special bonds
(政府专项债券), bring in social capital and REITs and reform its financing platform; it gives no
amounts. The model turns the scenario's investment (the *requested* budget) into what can be
financed each year:

    own(t)     = own_capacity × (1 + own_capacity_growth_rate)^(t − base_year)
    land(t)    = land_revenue_per_new_dwelling × new county-seat dwellings last year
    service(t) = interest × debt + debt / term             (equal principal repayments)
    bonds(t)   = min(bond_quota, max(0, requested + service − own − land))
    spent(t)   = min(requested, own + land + bonds − service),  debt += bonds − debt / term

so a plan budget above own funds is paid with bonds up to the quota, and the debt service of
earlier bonds crowds out later investment. Inputs: ``financing.csv`` (``item, year, value,
unit, low, high, source, status, note``), optional: without it investment is not constrained.
"""

from __future__ import annotations

from pathlib import Path

from urban_sim.policy.relocation import read_items

ITEMS = ("own_capacity_million_yuan", "own_capacity_growth_rate_per_year", "base_year",
         "bond_quota_million_yuan", "bond_interest_rate", "bond_term_years",
         "land_revenue_per_new_dwelling_million_yuan", "debt_million_yuan")


class Financing:
    """The county's investment budget constraint (see module docstring).

    Parameters
    ----------
    data_dir : Path
    start_year : int
        First simulated year; the opening debt is the table's value for it.
    seat_dwellings : float
        County-seat dwellings at the start (for new-dwelling land revenue).
    """

    def __init__(self, data_dir: Path, start_year: int, seat_dwellings: float) -> None:
        self.items = read_items(data_dir, "financing", ITEMS, start_year)
        self.debt = self.items["debt_million_yuan"] if self.items else 0.0
        self._dwellings = seat_dwellings
        self.last: dict[str, float] = dict.fromkeys(
            ("investment_requested", "own_funds", "land_revenue", "bond_issuance", "debt_service",
             "debt_outstanding", "investment_unfinanced"), 0.0)
        self.last["debt_outstanding"] = self.debt

    def fund(self, year: int, requested: float, seat_dwellings: float) -> float:
        """Investment that can be financed this year (million yuan); updates the debt."""
        c = self.items
        new = max(seat_dwellings - self._dwellings, 0.0)
        self._dwellings = seat_dwellings
        if c is None:
            self.last.update(investment_requested=requested)
            return requested
        own = c["own_capacity_million_yuan"] * (1 + c["own_capacity_growth_rate_per_year"]) ** (
            year - c["base_year"])
        land = c["land_revenue_per_new_dwelling_million_yuan"] * new
        repay = self.debt / max(c["bond_term_years"], 1.0)
        service = c["bond_interest_rate"] * self.debt + repay
        bonds = min(c["bond_quota_million_yuan"], max(0.0, requested + service - own - land))
        spent = min(requested, max(own + land + bonds - service, 0.0))
        self.debt += bonds - repay
        self.last = {"investment_requested": requested, "own_funds": own, "land_revenue": land,
                     "bond_issuance": bonds, "debt_service": service, "debt_outstanding": self.debt,
                     "investment_unfinanced": requested - spent}
        return spent

    def outputs(self) -> dict[str, float]:
        """This year's financing flows and the debt at the end of the year (million yuan)."""
        return dict(self.last)
