"""The location-choice rule written the plain Mesa way: the reference a Mesa user would write.

One :class:`mesa.Agent` per deciding household holding its own scalar attributes; its Python
``step()`` computes the same utilities as :func:`urban_sim.population.choice.choose_locations`
with ``math.log``/``math.exp``, the nested-logit probabilities and the inverse-CDF draw from the
uniform it is handed. Agents are stepped with ``model.agents.do("step")`` in creation order, so
fed the same uniforms the reference and the numpy kernel draw the same choices (up to the last
bit of ``exp``/``log``, which could only matter for a uniform within ~1e-16 of a cumulative
probability).
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from urban_sim.population.choice import Deciders, PlaceInputs


class Household(mesa.Agent):
    """A deciding household with its own attributes (the plain-Mesa layout)."""

    def __init__(self, model: "ChoiceModel", village: int, current: int, n_workers: int,
                 land_rented: bool, land_tied: bool, hukou_urban: bool, school_trigger: bool,
                 youngest_adult_age: int) -> None:
        super().__init__(model)
        self.village = village
        self.township = model.village_township[village]
        self.current = current
        self.n_workers = n_workers
        self.land_rented = land_rented
        self.land_tied = land_tied
        self.hukou_urban = hukou_urban
        self.school_trigger = school_trigger
        self.youngest_adult_age = youngest_adult_age
        self.u = 0.0
        self.choice = -1

    def step(self) -> None:
        m = self.model
        p = m.p
        K = m.K
        tw, v, cur = self.township, self.village, self.current
        places = (K + tw, tw, 0, 2 * K)
        other = p["household_other_income_yuan"] * (1.5 if self.land_rented else 1.0)
        d_vc, d_vs, d_ts = m.village_centre_km[v], m.village_seat_km[v], m.township_seat_km[tw]
        d_out = p["distance_outside_km"]
        if cur == 0:
            dist = (0.0, d_vc, d_vs, d_out)
        elif cur == 1:
            dist = (d_vc, 0.0, d_ts, d_out)
        else:
            dist = (d_vs, d_ts, 0.0, d_out)
        access = 1.0 if self.hukou_urban else m.hukou_service_access
        access_j = (1.0, access, access, p["service_access_outside"])
        tie = (1.0 if self.land_tied else 0.0) * (0.5 if self.land_rented else 1.0) * (1 - 0.5 * m.land_reform)
        age = min(self.youngest_adult_age, 100) - p["rc_mu2"]
        shape = math.exp(-p["rc_alpha2"] * age - math.exp(-p["rc_lambda2"] * age)) / m.rc_peak
        stay = p["stay_kappa0"] - p["stay_kappa1"] * math.log(max(shape, 1e-12))
        V = [0.0, 0.0, 0.0, 0.0]
        for j in range(4):
            pl = places[j]
            x = m.asc[j] + p["beta_income"] * math.log(self.n_workers * m.income[pl] + other)
            x = x - m.c_dist * math.log1p(dist[j])
            if j:
                x = x + p["beta_network"] * m.network[v][j]
            x = x + p["beta_amenity"] * m.amenity[pl]
            x = x - p["beta_congestion"] * m.congestion[pl]
            if self.school_trigger:
                x = x + p["beta_school"] * m.school_quality[j]
            x = x + p["beta_service_access"] * access_j[j]
            if j and j != cur:
                x = x - p["beta_land"] * tie
                if j < 3:
                    x = x - p["beta_price"] * m.ln_price[j]
            if j == cur:
                x = x + (stay + (p["stay_seat_offset"] if j == 2 else 0.0))
            V[j] = x
        # nested logit: {village}, {town, seat} (λ), {outside}
        lam = p["nest_lambda_urban"]
        s2 = V[2] / lam
        if tw == 0:  # no town centre in the county seat's township
            e1, e2, s, top = 0.0, 1.0, 1.0, s2
        else:
            s1 = V[1] / lam
            top = max(s1, s2)
            e1, e2 = math.exp(s1 - top), math.exp(s2 - top)
            s = e1 + e2
        iv = lam * (math.log(s) + top)
        top = max(V[0], iv, V[3])
        g0, g1, g3 = math.exp(V[0] - top), math.exp(iv - top), math.exp(V[3] - top)
        tot = g0 + g1 + g3
        p0 = g0 / tot
        pu = g1 / tot
        p1 = e1 / s * pu
        p2 = e2 / s * pu
        u = self.u
        if u < p0:
            self.choice = 0
        elif u < p0 + p1:
            self.choice = 1
        elif u < p0 + p1 + p2:
            self.choice = 2
        else:
            self.choice = 3


class ChoiceModel(mesa.Model):
    """The deciding households of one year as Mesa agents, with the place inputs as lists."""

    def __init__(self, households: Deciders, places: PlaceInputs, params) -> None:
        super().__init__(seed=0)
        self.p = dict(params)
        self.K = len(places.township_seat_km)
        self.village_township = places.village_township.tolist()
        self.village_centre_km = places.village_centre_km.tolist()
        self.village_seat_km = places.village_seat_km.tolist()
        self.township_seat_km = places.township_seat_km.tolist()
        self.income = places.income_yuan.tolist()
        self.amenity = places.amenity.tolist()
        self.congestion = places.congestion.tolist()
        self.network = places.network_share.tolist()
        self.school_quality = places.school_quality.tolist()
        self.ln_price = [0.0, math.log(places.housing_price_yuan_m2[0]),
                         math.log(places.housing_price_yuan_m2[1])]
        self.hukou_service_access = float(places.hukou_service_access)
        self.land_reform = float(places.land_reform)
        p = self.p
        self.asc = (0.0, p["asc_town"], p["asc_seat"], p["asc_outside"])
        self.c_dist = p["distance_income_ratio"] * p["beta_income"]
        a2, l2 = p["rc_alpha2"], p["rc_lambda2"]
        self.rc_peak = math.exp(-a2 * (math.log(l2 / a2) / l2) - a2 / l2)
        h = households
        cols = zip(h.village.tolist(), h.current.tolist(), h.n_workers.tolist(),
                   h.land_rented.tolist(), h.land_tied.tolist(), h.hukou_urban.tolist(),
                   h.school_trigger.tolist(), h.youngest_adult_age.tolist(), strict=True)
        self.households = [Household(self, *c) for c in cols]

    def choose(self, u: np.ndarray) -> np.ndarray:
        """Hand each household its uniform, step every agent in order; the choices."""
        for agent, ui in zip(self.households, u.tolist(), strict=True):
            agent.u = ui
        self.agents.do("step")
        return np.fromiter((a.choice for a in self.households), dtype=np.int8, count=len(u))

    def close(self) -> None:
        """Release the agents (Mesa ≤ 3.3 keeps every model alive through ``Agent._ids``)."""
        ids = getattr(mesa.Agent, "_ids", None)
        if isinstance(ids, dict):
            ids.pop(self, None)
        self.remove_all_agents()
