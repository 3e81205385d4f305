"""Tallies of the model's persons and households by place and age class (one bincount)."""

from __future__ import annotations

import math

import numpy as np

from urban_sim.population.kernels import (
    counts_and_presence, households_by_township_and_location,
)
from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE

N_AGE_CLASSES = 6
AC_PUPIL, AC_WORKING, AC_OLD = 2, 4, 5
AGE_CLASS = np.zeros(2**15, dtype=np.intp)
"""Age class of every int16 age for the tallies: 0-3, 4-5, 6-14 (pupils), 15, 16-59 (working
age), 60+."""
AGE_CLASS[4:], AGE_CLASS[6:], AGE_CLASS[15:], AGE_CLASS[16:], AGE_CLASS[60:] = 1, 2, 3, 4, 5


IN_COUNTY_BYTES = np.frombuffer(np.array([255, 255, 255, 0], np.uint8).tobytes(), np.uint32)[0]
"""Bytes of locations 0-2 (village, town, seat) in a household's row of presence flags read as
one uint32 (the byte order of the machine)."""
assert LOC_OUTSIDE == 3 and max(LOC_VILLAGE, LOC_TOWN, LOC_SEAT) < 3


def tally(self) -> None:
    """Counts by place and population groups at full-population scale.

    Sets ``residents``, ``labour_force``, ``occupied``, ``n_households``, ``housing_use``,
    ``n_big_towns``, ``groups``, ``school_use`` and ``old_by_place`` on the model ``self``
    (a :class:`urban_sim.model.CountyModel`); persons at full scale (agents × weight).
    """
    P, H, w, K = self.persons, self.households, self.weight, self.K
    nP = 2 * K + 1
    # one count of persons by (location × K + township, age class); the dead in a last row
    by_key, flags = counts_and_presence(P.loc, P.hh, H.township, P.alive, P.age, AGE_CLASS, K,
                                        N_AGE_CLASSES, len(H))
    by_key = by_key.reshape(4 * K + 1, -1)
    by_place = np.zeros((nP + 1, N_AGE_CLASSES), dtype=np.int64)
    np.add.at(by_place, self._place_lut, by_key)
    by_place = by_place[:nP]  # without the dead
    self.residents = by_place.sum(axis=1) * w
    self.labour_force = by_place[:, AC_WORKING] * w
    pupil_n = by_place[:, AC_PUPIL].copy()
    pupil_n[self.OUT] = 0
    resident = by_place[: self.OUT].sum(axis=0)  # persons in the county by age class
    # households with a living member at each (township, location)
    pres = flags[:-1].reshape(-1, 4)  # as population.migration.presence
    self.presence = pres  # read by relocation at the start of next year (nothing moves before)
    n_at = households_by_township_and_location(pres.ravel(), H.township, K).reshape(K, 4)
    self.occupied = np.zeros(nP)
    self.occupied[K:2 * K] += n_at[:, LOC_VILLAGE] * w
    self.occupied[:K] += n_at[:, LOC_TOWN] * w
    self.occupied[0] += n_at[:, LOC_SEAT].sum() * w
    # a household split between places is one household (counted once, census definition)
    # (the four location flags of a household read as one 32-bit word, outside masked off)
    in_county = pres.view(np.uint32).ravel() & IN_COUNTY_BYTES
    self.n_households = np.count_nonzero(in_county) * w
    self.housing_use_all = np.zeros(2 * K)
    if hasattr(self, "housing"):
        self.housing_use_all[:K] = self.occupied[:K] / np.maximum(self.housing, 1e-9)
    self.housing_use = self.housing_use_all[:K]
    total = self.residents[:-1].sum()
    urban = self.residents[self.is_urban_place].sum()
    seat = self.residents[0]
    pupils = pupil_n * w
    town_res = self.residents[1:K]
    self.n_big_towns = int(np.sum((town_res >= self.params["town_sewage_min_residents"])
                                  & (self.kind[1:] == "town")))
    p = self.params
    veh = p["vehicles_per_urban_resident"] * (1 + p["vehicle_growth_rate_per_year"]) ** (self.year - 2020)
    self.groups = {
        "residents": total, "urban_residents": urban, "seat_residents": seat,
        "rural_residents": total - urban, "pupils": pupils[:-1].sum(), "pupils_seat": pupils[0],
        "disabled_children": p["disabled_child_share"] * pupils[:-1].sum(),
        "vehicles": veh * seat, "seat_built_up_km2": seat / p["seat_density_persons_km2"],
        "n_villages": float(len(self.data.villages)), "n_other_townships": float(K - 1),
        "age_0_14": resident[:AC_PUPIL + 1].sum() * w, "age_60_plus": resident[AC_OLD] * w,
        "age_0_3": resident[0] * w,
        "childcare_demand": (self.childcare.demand(resident[0] * w, self.year)
                             if self.childcare.active else math.inf),
        "registered": int(by_place.sum()) * w, "outside": self.residents[-1],
    }
    if hasattr(self, "stocks"):
        self.groups["beds_per_1000"] = self.stocks["hospital_beds"] / max(total, 1) * 1000
        self.school_use = pupils[0] / max(self.stocks["school_seats_seat"], 1.0)
    else:
        self.groups["beds_per_1000"] = 6.0
        self.school_use = 1.0
    self.old_by_place = by_place[:, AC_OLD]
