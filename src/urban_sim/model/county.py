"""CountyModel (mesa.Model): wiring and the annual step as a list of named phases (model.md §3).

Places (index ``p``): 0 county seat; 1..K-1 the centres of townships 1..K-1; K..2K-1 the village
areas of townships 0..K-1; 2K outside the county (K = number of township-level units, 23 for Lin
County, township 0 being the one that contains the county seat).
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd

from urban_sim.config.schema import TASK_AREAS, Scenario
from urban_sim.data.tables import CountyData, load_county, load_county_cached
from urban_sim.economy.labour import FARMING, UNEMPLOYED, LabourMarket
from urban_sim.errors import ConfigError, did_you_mean
from urban_sim.policy.government import Government, Programmes
from urban_sim.model.outputs import FLOWS, investment_in, jobs_created_in, jobs_in
from urban_sim.population import choice as ch
from urban_sim.population import demography
from urban_sim.population.state import (
    LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE, SECTORS, Table,
)
from urban_sim.population.synthesis import synthesize
from urban_sim.services.stocks import (
    NEW_BUILDING_SHARES, Stocks, adoption_standard, amenity_and_congestion, new_building_share,
)
from urban_sim.targets import (
    INDICATOR_OF_STOCK, RatioDecomposition, indicator_values, queued_by_stock, scenario_targets,
    sites,
)

PHASES = (
    "exogenous_inputs", "government_investment", "labour_market", "demography",
    "perceive_places", "location_choice", "capacity_allocation", "return_migration",
    "land_and_institutions", "services_and_indicators",
)
"""The annual schedule, in order (model.md §3)."""

WORKING_AGE = (16, 59)
PUPIL_AGE = (6, 14)
N_AGE_CLASSES = 6
AC_PUPIL, AC_WORKING, AC_OLD = 2, 4, 5
AGE_CLASS = np.zeros(2**15, dtype=np.intp)
"""Age class of every int16 age for the tallies: 0-3, 4-5, 6-14 (pupils), 15, 16-59 (working
age), 60+."""
AGE_CLASS[4:], AGE_CLASS[6:], AGE_CLASS[15:], AGE_CLASS[16:], AGE_CLASS[60:] = 1, 2, 3, 4, 5


class Place(mesa.Agent):
    """A township-level unit (镇 or 乡) with its centre and village area.

    Attributes
    ----------
    township_id : int
    name : str
        Chinese name, used as ``place`` in outputs.
    kind : str
        ``county_seat``, ``town`` (designated town, urban centre) or ``township`` (乡, rural).
    qikou : bool
        In the Qikou scenic area.
    """

    def __init__(self, model: mesa.Model, township_id: int, name: str, kind: str, qikou: bool) -> None:
        super().__init__(model)
        self.township_id, self.name, self.kind, self.qikou = township_id, name, kind, qikou


class CountyModel(mesa.Model):
    """Agent-based model of a county's urbanization (model.md).

    Parameters
    ----------
    scenario : Scenario
        Resolved scenario (:func:`urban_sim.config.load_scenario`).
    data : CountyData, optional
        Input tables; default read from ``scenario.data_dir`` or the built-in Lin County data.
    seed : int or numpy.random.SeedSequence, optional
        Seed of the model's one random generator; default ``scenario.seed``.

    Raises
    ------
    ConfigError
        If the scenario names an unknown parameter.
    DataError
        If an input table is missing or inconsistent.

    Notes
    -----
    Households and persons are columns of :class:`~urban_sim.population.state.Table`; every
    decision is an individual random draw made column-wise with ``self.rng``. One agent stands
    for ``1/scale`` persons; every reported count is at full-population scale.
    """

    def __init__(self, scenario: Scenario, *, data: CountyData | None = None, seed=None) -> None:
        super().__init__(rng=np.random.SeedSequence(scenario.seed if seed is None else seed)
                         if not isinstance(seed, np.random.SeedSequence) else seed)
        self.scenario = scenario
        self.data = data or load_county_cached(scenario.data_dir)
        self.params = self._parameters(scenario, self.data)
        self.year = scenario.start_year
        self.weight = 1.0 / scenario.scale
        tw = self.data.townships
        self.K = K = len(tw)
        self.n_places = 2 * K
        self.OUT = 2 * K
        self.place_type = np.concatenate([[0], np.ones(K - 1, int), np.full(K, 2)])
        self.kind = tw["kind"].to_numpy()
        self.is_urban_place = np.zeros(2 * K + 1, dtype=bool)
        self.is_urban_place[0] = True
        self.is_urban_place[1:K] = self.kind[1:] == "town"
        qikou = tw["qikou_scenic_area"].to_numpy(int) == 1
        self.places = [Place(self, int(r.township_id), str(r.name_zh), str(r.kind), bool(q))
                       for r, q in zip(tw.itertuples(), qikou, strict=True)]
        self.qikou_place = np.zeros(2 * K, dtype=bool)
        self.qikou_place[1:K] = qikou[1:]
        vil = self.data.villages
        self.v_dist_centre = vil["distance_to_centre_km"].to_numpy(float)
        self.v_dist_seat = vil["distance_to_seat_km"].to_numpy(float)
        self.t_dist_seat = tw["distance_to_seat_km"].to_numpy(float)
        self.v_township = self.data.villages["township_id"].to_numpy(np.int64)
        t = np.arange(K)
        # place of a person by location code × K + township; the extra last entry (2K + 1) is
        # where _tally counts the dead
        self._place_lut = np.concatenate([K + t, t, np.zeros(K, np.int64), np.full(K, self.OUT),
                                          [2 * K + 1]])

        pcols, hcols = synthesize(self.data, self.year, scale=scenario.scale, params=self.params,
                                  rng=self.rng)
        self.persons, self.households = Table(pcols), Table(hcols)
        self.targets = scenario_targets(scenario, self.data)
        self.ratios = RatioDecomposition(max(scenario.policy.start_year - 1, scenario.start_year))
        self.flows: dict[str, float] = {}
        self.records: list[tuple[int, str, str, float]] = []
        self._tally()
        self.stocks = Stocks(self.data.stock_values(self.year), self.groups, self.params)
        self.housing = self.occupied[:K] * (1 + self.params["housing_vacancy_target"])
        self._housing_last = self.housing.sum()
        self.new_dwellings = self._housing_last * self.params["new_dwelling_rate_start"]
        self._refused = np.zeros(K)
        p = self.params
        q = np.where(self.qikou_place, self.residents[:2 * K], 0.0)
        tourism = p["tourism_jobs_qikou_2023"] * (1 + p["job_trend_tourism"]) ** (self.year - 2023)
        self.labour = LabourMarket(self.labour_force[:2 * K], self.residents[:2 * K],
                                   self.place_type, p, tourism * q / max(q.sum(), 1e-9))
        self.programmes = Programmes(self.data.programmes)
        src = getattr(scenario, "_source", None) or "scenario"
        self.weights = {id(b): self.programmes.weights(b, src) for b in (scenario.history, scenario.policy)}
        self.government = Government(self, self.programmes, 2 * K)
        self.perceived: dict[str, np.ndarray] = {}
        self._jobs_last = self.labour.nonfarm_jobs.sum()
        self._vital = {r: demography.rate_schedules(self.data.vital_rates, r)
                       for r in ("mortality", "fertility")}
        self.exogenous_inputs()
        self.services_and_indicators(collect_flows=False)
        self._perceive(initial=True)

    # ------------------------------------------------------------------ set-up helpers
    @staticmethod
    def _parameters(scenario: Scenario, data: CountyData) -> dict[str, float]:
        params = dict(data.parameters)
        src = getattr(scenario, "_source", None) or "scenario"
        for key, value in scenario.parameters.items():
            if key not in params:
                raise ConfigError(f"{src}: unknown key 'parameters.{key}'"
                                  f"{did_you_mean(key, params)}")
            low, high = data.parameter_ranges.get(key, (-math.inf, math.inf))
            if not low <= value <= high:
                raise ConfigError(f"{src}: key 'parameters.{key}' = {value!r}: allowed range "
                                  f"[{low:g}, {high:g}] (parameters.csv)")
            params[key] = float(value)
        return params

    def place_of(self, idx: np.ndarray) -> np.ndarray:
        """Place index of persons ``idx``, shape (len(idx),)."""
        key = np.multiply(self.persons.loc[idx], self.K, dtype=np.intp)
        key += self.households.township[self.persons.hh[idx]]
        return self._place_lut.take(key)

    # ------------------------------------------------------------------ the annual step
    def step(self) -> None:
        """Advance one year: run every phase of :data:`PHASES` in order."""
        self.year += 1
        self.flows = dict.fromkeys(FLOWS, 0.0)
        for phase in PHASES:
            getattr(self, phase)()

    def run(self, end_year: int | None = None) -> pd.DataFrame:
        """Step until ``end_year`` (default the scenario's) and return :meth:`timeseries`."""
        end = self.scenario.end_year if end_year is None else end_year
        while self.year < end:
            self.step()
        return self.timeseries()

    # 1 -----------------------------------------------------------------------------------
    def exogenous_inputs(self) -> None:
        """Inputs for the year: policy block in force, wages, vital rates, budget."""
        sc, p, t = self.scenario, self.params, self.year
        self.block = sc.levers_at(t)
        u = sc.uncertainties
        dt = t - p["wage_growth_base_year"]
        local = (1 + u.local_wage_growth_rate_per_year) ** dt
        outside = (1 + u.outside_wage_growth_rate_per_year) ** dt
        wage = np.array([p["wage_seat_yuan"], p["wage_town_yuan"], p["wage_village_nonfarm_yuan"]])
        fallback = np.array([p["informal_income_yuan"], p["informal_income_yuan"], p["farm_income_yuan"]])
        self.wage = np.append(wage[self.place_type] * local, p["wage_outside_yuan"] * outside)
        self.fallback = np.append(fallback[self.place_type] * local, p["outside_fallback_income_yuan"] * outside)
        self.mortality = np.minimum(demography.rate_in_year(*self._vital["mortality"], t)
                                    * u.mortality_multiplier, 1.0)
        self.fertility = demography.rate_in_year(*self._vital["fertility"], t) * u.fertility_multiplier
        start = sc.policy.start_year if self.block is sc.policy else sc.start_year
        inv = self.block.investment
        self.budget = (inv.total_million_yuan * (1 + inv.growth_rate_per_year) ** (t - start)
                       * u.energy_price_index ** p["fiscal_energy_elasticity"])

    # 2 -----------------------------------------------------------------------------------
    def government_investment(self) -> None:
        """Fund programmes, start projects, complete those whose lag has passed."""
        values = indicator_values(self.stocks, self.groups, self.n_big_towns, self._queued())
        need = np.ones(len(self.programmes))
        for i, stock in enumerate(self.programmes.stock):
            ind = INDICATOR_OF_STOCK.get(stock)
            if ind is None:
                continue
            mine = [t for t in self.targets if t.indicator == ind]
            ahead = [t for t in mine if t.year >= self.year] or mine[-1:]  # past the last target
            if ahead and all(t.met(values[ind]) for t in ahead):  # year, keep the last one
                need[i] = 0.1
        use = {"school_seats_seat": self.school_use, "housing_units_seat": self.housing_use[0],
               "housing_units_towns": float(np.mean(self.housing_use[1:])),
               "hospital_beds": 6.0 / max(self.groups["beds_per_1000"], 1e-9)}
        for i, stock in enumerate(self.programmes.stock):
            if stock in use:
                need[i] = float(np.clip(use[stock] / 0.9, 0.2, 2.0))
        p, t = self.params, self.year
        room = {name: self.stocks.room(name, self.groups) for name in set(self.programmes.stock)
                if name in self.stocks.value}
        room.update({name: max(n - self.stocks[name], 0.0)
                     for name, n in sites(self.targets, self.groups, self.n_big_towns).items()})
        new_m2 = self.new_dwellings * p["floor_area_per_new_dwelling_m2"]
        standard = {name: adoption_standard(t, p[f"{name}_standard_start_year"],
                                            p[f"{name}_standard_rate"], p[f"{name}_standard_ceiling"])
                    for name in NEW_BUILDING_SHARES}
        for name in NEW_BUILDING_SHARES:  # programme units are 1000 m² of funded floor area
            room[name] = (1.0 - standard[name]) * new_m2 / 1000.0
        gov_eff = self.stocks["governance_efficiency"]
        shares = np.array([getattr(self.block.investment.task_area_shares, a) for a in TASK_AREAS])
        pw = self._place_weights()
        self.government.invest(
            self.budget, shares, self.weights[id(self.block)], need,
            self.government.headroom(room),
            self.scenario.uncertainties.construction_cost_multiplier * (1 + 0.3 * (1 - gov_eff)),
            p["governance_early_completion"] * gov_eff, pw, t)
        additions, self._direct_jobs, self._construction_jobs = self.government.complete(
            p["job_attrition_rate"], pw, self.n_places)
        self.stocks.depreciate()
        for stock, amount in additions.items():
            if stock not in NEW_BUILDING_SHARES:
                self.stocks.add(stock, amount, self.groups)
        for name in NEW_BUILDING_SHARES:
            self.stocks[name] = new_building_share(standard[name], additions.get(name, 0.0) * 1000.0,
                                                   new_m2)
        self._homesteads_to_withdraw = additions.get("homestead_withdrawn", 0.0)
        self.housing[0] += additions.get("housing_units_seat", 0.0)
        self.housing[1:] += additions.get("housing_units_towns", 0.0) * pw["towns"][1:self.K]

    def _queued(self) -> dict[str, float]:
        """Stock additions funded and under construction, by stock."""
        g = self.government
        return queued_by_stock(self.programmes.stock, g.pipeline.sum(axis=0) * self.programmes.unit_size)

    def _place_weights(self) -> dict[str, np.ndarray]:
        res = self.residents[: self.n_places]
        def norm(mask):
            w = np.where(mask, res, 0.0)
            if w.sum() <= 0:
                w = mask.astype(float)
            return w / w.sum()
        seat = np.zeros(self.n_places); seat[0] = 1.0
        towns = norm(self.place_type == 1)
        return {"county_seat": seat, "county": norm(np.ones(self.n_places, bool)), "towns": towns,
                "villages": norm(self.place_type == 2),
                "qikou_towns": norm(self.qikou_place) if self.qikou_place.any() else towns}

    # 3 -----------------------------------------------------------------------------------
    def labour_market(self) -> None:
        """Update job stocks; Harris–Todaro chances; draw each worker's employment."""
        p = self.params
        trends = np.zeros(len(SECTORS))
        trends[SECTORS.index("industry")] = p["job_trend_industry"]
        trends[SECTORS.index("services")] = p["job_trend_services"]
        trends[SECTORS.index("public")] = p["job_trend_public"]
        trends[SECTORS.index("agriculture")] = p["job_trend_industry"]
        tour = (p["job_trend_tourism"] * (1 + self.stocks["tourism_capacity"])
                + 0.05 * p["tourism_jobs_per_promotion"] * self.block.levers.tourism_promotion)
        tourism_growth = np.where(self.qikou_place, tour, 0.0)
        self._jobs_last = self.labour.nonfarm_jobs.sum()
        self.labour.update(self.residents[: self.n_places], self._direct_jobs, self._construction_jobs,
                           trends=trends, params=p, tourism_growth=tourism_growth)
        self.labour.employment_chance(self.labour_force[: self.n_places])
        self.job_growth = self.labour.nonfarm_jobs.sum() / max(self._jobs_last, 1.0) - 1.0
        P = self.persons
        P.sector[:] = -1
        idx = np.flatnonzero(P.alive & (P.loc != LOC_OUTSIDE) & (P.age >= WORKING_AGE[0])
                             & (P.age <= WORKING_AGE[1]))
        P.sector[idx] = self.labour.assign(self.place_of(idx), P.trained[idx],
                                           p["training_employability_boost"], self.rng)

    # 4 -----------------------------------------------------------------------------------
    def demography(self) -> None:
        """Ageing, deaths, births and household formation."""
        P = self.persons
        np.add(P.age, P.alive, out=P.age, casting="unsafe")  # + 1 for the living
        dead = demography.deaths(P, self.mortality, self.rng)
        born = demography.births(P, self.fertility, self.rng)
        self.flows["deaths"] = len(dead) * self.weight
        abroad = P.loc[born] == LOC_OUTSIDE  # registered mothers living outside the county
        self.flows["births"] = np.sum(~abroad) * self.weight
        self.flows["births_outside"] = np.sum(abroad) * self.weight
        demography.form_households(P, self.households, self.params["household_formation_rate"], self.rng)
        self._repair_bases()

    def _presence(self) -> np.ndarray:
        """Whether each household has a living member at each location code, shape (n_hh, 4)."""
        P, nH = self.persons, len(self.households)
        key = np.multiply(P.hh, 4, dtype=np.intp)
        key += P.loc
        np.putmask(key, ~P.alive, 4 * nH)  # the dead mark a spare last cell
        pres = np.zeros(4 * nH + 1, dtype=bool)
        pres[key] = True
        return pres[:-1].reshape(-1, 4)

    def _repair_bases(self) -> None:
        """A household whose base has no living member moves its base to where its members are
        (the most urban in-county location among them; outside if none is in the county)."""
        H = self.households
        pres = self._presence()
        at = np.multiply(np.arange(len(H)), 4)
        at += H.base
        fix = np.flatnonzero(~pres.ravel()[at])
        if len(fix):
            pf = pres[fix]
            H.base[fix] = np.select([pf[:, LOC_SEAT], pf[:, LOC_TOWN], pf[:, LOC_VILLAGE]],
                                    [LOC_SEAT, LOC_TOWN, LOC_VILLAGE], LOC_OUTSIDE)
            H.years_at_base[fix] = 0

    # 5 -----------------------------------------------------------------------------------
    def perceive_places(self) -> None:
        """Smoothed (perceived) income, amenity, congestion and network shares."""
        self._perceive(initial=False)

    def _perceive(self, *, initial: bool) -> None:
        p = self.params
        chance = np.append(self.labour.chance, p["outside_job_chance"])
        income = chance * self.wage + (1 - chance) * self.fallback
        current = {"income": income, "amenity": np.append(self.amenity, p["amenity_outside"]),
                   "congestion": np.append(self.congestion, 0.0)}
        tau = max(p["perception_delay_years"], 1.0)
        for key, value in current.items():
            if initial:
                self.perceived[key] = value.copy()
            else:
                self.perceived[key] += (value - self.perceived[key]) / tau
        # network: share of each village's absent members living at town / seat / outside
        P, H = self.persons, self.households
        alive = np.flatnonzero(P.alive & (P.loc != LOC_VILLAGE))
        key = np.multiply(H.village.take(P.hh.take(alive)), 4, dtype=np.intp)
        key += P.loc.take(alive)
        counts = np.bincount(key, minlength=4 * len(self.data.villages)).reshape(-1, 4)
        self.network = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

    # 6 -----------------------------------------------------------------------------------
    def location_choice(self) -> None:
        """Nested-logit choice of every household with members at its in-county base
        (:func:`urban_sim.population.choice.choose_locations`)."""
        p, P, H = self.params, self.persons, self.households
        base_of = H.base.take(P.hh)
        at_base = P.loc == base_of
        at_base &= P.alive
        self._at_base = at_base  # persons at their household's base, for capacity_allocation
        sel = at_base & (base_of != LOC_OUTSIDE)
        hb, agb = P.hh[sel].astype(np.intp), P.age[sel]
        nH = len(H)
        n_at = np.bincount(hb, minlength=nH)
        work = (agb >= WORKING_AGE[0]) & (agb <= WORKING_AGE[1])
        n_work = np.bincount(hb[work], minlength=nH)
        youngest = np.full(nH, 200, dtype=np.int16)
        adult = agb >= 18
        np.minimum.at(youngest, hb[adult], agb[adult])
        trigger = np.bincount(hb[(agb == 6) | (agb == 12)], minlength=nH) > 0
        dec = np.flatnonzero(n_at > 0)
        if not len(dec):
            self._applicants = None
            return
        base = H.base[dec]
        n = len(dec)
        lv = self.block.levers
        deciders = ch.Deciders(
            village=H.village[dec], current=base, n_workers=n_work[dec],
            land_rented=H.land_rented[dec], land_tied=H.land_tie[dec] & ~H.homestead_withdrawn[dec],
            hukou_urban=H.hukou_urban[dec], school_trigger=trigger[dec], youngest_adult_age=youngest[dec])
        q = np.array([p["school_quality_village"], p["school_quality_town"],
                      p["school_quality_seat"] * min(1.0, 1.0 / max(self.school_use, 1e-9)),
                      p["school_quality_outside"]])
        price = np.array([p["housing_price_town_yuan_m2"], p["housing_price_seat_yuan_m2"]]) * (
            1 + p["housing_price_growth_rate_per_year"]) ** (self.year - 2020) * (
            1 - p["housing_support_price_cut"] * lv.housing_support_share)
        places = ch.PlaceInputs(
            income_yuan=self.perceived["income"], amenity=self.perceived["amenity"],
            congestion=self.perceived["congestion"], network_share=self.network,
            village_township=self.v_township,
            village_centre_km=self.v_dist_centre,
            village_seat_km=self.v_dist_seat, township_seat_km=self.t_dist_seat,
            school_quality=q, housing_price_yuan_m2=price,
            hukou_service_access=lv.hukou_service_access, land_reform=lv.land_reform)
        choice = ch.choose_locations(deciders, places, p, self.rng.random(n))
        cur = base.astype(np.int64)
        movers = choice != cur
        u2 = self.rng.random(n)
        self._applicants = (dec[movers], choice[movers], cur[movers], u2[movers],
                            deciders.n_workers[movers], deciders.school_trigger[movers])

    # 7 -----------------------------------------------------------------------------------
    def capacity_allocation(self) -> None:
        """Lottery over dwellings and county-seat school seats; execute the accepted moves."""
        if self._applicants is None:
            return
        p, P, H = self.params, self.persons, self.households
        # private housing supply: developers build toward the target vacancy rate, counting the
        # households refused a dwelling last year as unmet demand
        wanted = (self.occupied[: self.K] + self._refused) / (1 - p["housing_vacancy_target"])
        self.housing += p["housing_market_response"] * np.maximum(wanted - self.housing, 0.0)
        hhs, dest, cur, u2, n_work, trigger = self._applicants
        at_base = np.flatnonzero(self._at_base)  # unchanged since location_choice
        nH = len(H)
        hh_b = P.hh.take(at_base)
        applicant = np.zeros(nH, dtype=bool)
        applicant[hhs] = True
        ia = np.flatnonzero(applicant.take(hh_b))  # members at the base of applying households
        pa, ha = at_base[ia], hh_b[ia].astype(np.intp)
        age_a = P.age[pa]
        mother_ok = np.bincount(ha[P.female[pa] & (age_a >= 20) & (age_a <= 55)], minlength=nH) > 0
        pupils = np.bincount(ha[(age_a >= PUPIL_AGE[0]) & (age_a <= PUPIL_AGE[1])], minlength=nH)
        to_urban = (dest == ch.ALT_TOWN) | (dest == ch.ALT_SEAT)
        mother_pupil = to_urban & trigger & mother_ok[hhs] & (pupils[hhs] > 0) & (u2 < p["p_mother_with_pupil"])
        labour_only = (dest == ch.ALT_OUTSIDE) & (n_work > 0) & (u2 < p["p_labour_only_outside"])
        # lottery for those moving into the county seat or a town centre
        tw = H.township[hhs].astype(np.int64)
        place = np.where(dest == ch.ALT_SEAT, 0, tw)
        urban_idx = np.flatnonzero(to_urban)
        vacancy = np.stack([
            np.maximum(self.housing - self.occupied[: self.K], 0.0),
            np.where(np.arange(self.K) == 0,
                     max(self.stocks["school_seats_seat"] - self.groups["pupils_seat"], 0.0), np.inf),
        ], axis=1)
        need = np.stack([np.ones(len(urban_idx)), pupils[hhs[urban_idx]].astype(float)], axis=1)
        ok = np.ones(len(hhs), dtype=bool)
        ok[urban_idx] = ch.capacity_lottery(place[urban_idx], need, vacancy, self.weight, self.rng)
        refused = urban_idx[~ok[urban_idx]]
        self._refused = np.bincount(place[refused], minlength=self.K) * self.weight
        hhs, dest, cur, mother_pupil, labour_only = (a[ok] for a in (hhs, dest, cur, mother_pupil, labour_only))
        # who moves
        flag = np.zeros(nH, dtype=np.int8)  # 1 whole, 2 mother+pupil, 3 labour only
        flag[hhs] = np.where(mother_pupil, 2, np.where(labour_only, 3, 1))
        to = np.full(nH, -1, dtype=np.int8)
        to[hhs] = np.array([LOC_VILLAGE, LOC_TOWN, LOC_SEAT, LOC_OUTSIDE])[dest]
        u_elder = self.rng.random(len(at_base))
        sub = np.flatnonzero(flag[ha])  # members at the base of moving households
        hh_s = ha[sub]
        f, age_s, at_s = flag[hh_s], age_a[sub], pa[sub]
        stay_elder = (age_s >= 65) & (u_elder[ia[sub]] < p["urban_share_stay_elderly"])
        first_mother = np.zeros(len(sub), dtype=bool)
        cand = np.flatnonzero((f == 2) & P.female[at_s] & (age_s >= 20) & (age_s <= 55))
        first_mother[cand[np.unique(hh_s[cand], return_index=True)[1]]] = True
        move = (((f == 1) & ~stay_elder)
                | ((f == 2) & (((age_s >= PUPIL_AGE[0]) & (age_s <= PUPIL_AGE[1])) | first_mother))
                | ((f == 3) & (age_s >= WORKING_AGE[0]) & (age_s <= 49)))
        who = at_s[move]
        dest_loc = to[P.hh[who]]
        from_loc = P.loc[who]
        w = self.weight
        self.flows["moves_village_to_seat"] += np.sum((from_loc == LOC_VILLAGE) & (dest_loc == LOC_SEAT)) * w
        self.flows["moves_village_to_town"] += np.sum((from_loc == LOC_VILLAGE) & (dest_loc == LOC_TOWN)) * w
        self.flows["moves_to_outside"] += np.sum(dest_loc == LOC_OUTSIDE) * w
        self.flows["new_county_seat_residents"] += np.sum(dest_loc == LOC_SEAT) * w
        P.loc[who] = dest_loc
        whole = hhs[flag[hhs] == 1]
        H.base[whole] = to[whole]
        H.years_at_base[whole] = 0
        self._repair_bases()

    # 8 -----------------------------------------------------------------------------------
    def return_migration(self) -> None:
        """Members living outside return with an age-, care- and job-dependent hazard."""
        p, P, H = self.params, self.persons, self.households
        out = np.flatnonzero(P.alive & (P.loc == LOC_OUTSIDE))
        alive = np.flatnonzero(P.alive & (P.loc != LOC_OUTSIDE) & (P.age >= 75))
        care = np.bincount(P.hh[alive], minlength=len(H)) > 0
        hh = P.hh[out]
        hazard = p["return_hazard_base"] * (
            1 + p["talent_return_hazard_effect"] * self.stocks["talent_return_support"]) * np.exp(
            p["return_gamma_age"] * (P.age[out] >= 45) + p["return_gamma_care"] * care[hh]
            + p["return_gamma_job"] * self.job_growth)
        back = self.rng.random(len(out)) < np.minimum(hazard, 1.0)
        who, hh = out[back], hh[back]
        base = H.base[hh]
        u = self.rng.random(len(H))[hh]  # one draw per household: members return together
        s_v, s_t = p["returnee_share_village"], p["returnee_share_town"]
        pick = np.where(u < s_v, LOC_VILLAGE, np.where(u < s_v + s_t, LOC_TOWN, LOC_SEAT))
        pick = np.where((pick == LOC_TOWN) & (H.township[hh] == 0), LOC_SEAT, pick)
        dest = np.where(base != LOC_OUTSIDE, base, pick).astype(np.int8)
        P.loc[who] = dest
        newbase = hh[base == LOC_OUTSIDE]
        H.base[newbase] = dest[base == LOC_OUTSIDE]
        H.years_at_base[newbase] = 0
        self.flows["returns"] += len(who) * self.weight
        self.flows["new_county_seat_residents"] += np.sum(dest == LOC_SEAT) * self.weight

    # 9 -----------------------------------------------------------------------------------
    def land_and_institutions(self) -> None:
        """Land renting, homestead withdrawal, hukou conversion, vocational training."""
        p, P, H, lv = self.params, self.persons, self.households, self.block.levers
        rng = self.rng
        alive = np.flatnonzero(P.alive & (P.loc == LOC_VILLAGE) & (P.age >= 16) & (P.age <= 64))
        farming = np.bincount(P.hh[alive], minlength=len(H)) > 0
        cand = np.flatnonzero(H.land_tie & ~H.land_rented & ~farming)
        rate = p["land_rent_out_rate"] * (1 + p["land_reform_rent_boost"] * lv.land_reform)
        H.land_rented[cand[rng.random(len(cand)) < rate]] = True
        k = n_agents(self._homesteads_to_withdraw / self.weight, rng)
        cand = np.flatnonzero(H.land_tie & ~H.homestead_withdrawn & (H.base != LOC_VILLAGE))
        if k and len(cand):
            chosen = rng.choice(cand, size=min(k, len(cand)), replace=False)
            H.homestead_withdrawn[chosen] = True
            H.land_tie[chosen] = False
        cand = np.flatnonzero((H.base == LOC_SEAT) & ~H.hukou_urban & (H.years_at_base >= 2))
        conv = rng.random(len(cand)) < p["hukou_conversion_rate"] * (0.5 + lv.hukou_service_access)
        H.hukou_urban[cand[conv]] = True
        H.years_at_base[:] = np.minimum(H.years_at_base + 1, 1000)
        trained = np.flatnonzero(P.trained)  # skills and certificates lapse (training expires)
        P.trained[trained[rng.random(len(trained)) < p["training_expiry_rate"]]] = False
        k = n_agents(self.stocks["training_places"] * (0.5 + lv.vocational_training_intensity)
                     / self.weight, rng)
        cand = np.flatnonzero(P.alive & ~P.trained & (P.loc != LOC_OUTSIDE) & (P.age >= 16) & (P.age <= 45))
        if k and len(cand):
            P.trained[rng.choice(cand, size=min(k, len(cand)), replace=False)] = True

    # 10 ----------------------------------------------------------------------------------
    def services_and_indicators(self, collect_flows: bool = True) -> None:
        """Recompute demand, congestion and amenity with the new residents; collect indicators."""
        self._tally()
        self.stocks.cap_served(self.groups)
        if collect_flows:
            built = self.housing.sum()
            self.new_dwellings, self._housing_last = max(built - self._housing_last, 0.0), built
        self.amenity, self.congestion = amenity_and_congestion(
            self.stocks, self.groups, self.housing_use_all, self.place_type, self.params)
        self._collect(collect_flows)

    # ------------------------------------------------------------------ tallies and output
    def _tally(self) -> None:
        """Counts by place and population groups at full-population scale."""
        P, H, w, K = self.persons, self.households, self.weight, self.K
        nP = 2 * K + 1
        # one count of persons by (location × K + township, age class); the dead in a last row
        key = np.multiply(P.loc, K, dtype=np.intp)
        key += H.township.take(P.hh)
        np.putmask(key, ~P.alive, 4 * K)
        key *= N_AGE_CLASSES
        key += AGE_CLASS.take(P.age)
        by_key = np.bincount(key, minlength=(4 * K + 1) * N_AGE_CLASSES).reshape(4 * K + 1, -1)
        by_place = np.zeros((nP + 1, N_AGE_CLASSES), dtype=np.int64)
        np.add.at(by_place, self._place_lut, by_key)
        by_place = by_place[:nP]  # without the dead
        self.residents = by_place.sum(axis=1) * w
        self.labour_force = by_place[:, AC_WORKING] * w
        pupil_n = by_place[:, AC_PUPIL].copy()
        pupil_n[self.OUT] = 0
        resident = by_place[: self.OUT].sum(axis=0)  # persons in the county by age class
        # households with a living member at each (township, location)
        pres = self._presence()
        present = np.flatnonzero(pres.ravel())
        code = np.multiply(self.households.township[present >> 2], 4, dtype=np.intp)
        code += present & 3
        n_at = np.bincount(code, minlength=4 * K).reshape(K, 4)
        self.occupied = np.zeros(nP)
        self.occupied[K:2 * K] += n_at[:, LOC_VILLAGE] * w
        self.occupied[:K] += n_at[:, LOC_TOWN] * w
        self.occupied[0] += n_at[:, LOC_SEAT].sum() * w
        # a household split between places is one household (counted once, census definition)
        self.n_households = np.count_nonzero(pres[:, :LOC_OUTSIDE].any(axis=1)) * w
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
            "registered": int(by_place.sum()) * w, "outside": self.residents[-1],
        }
        if hasattr(self, "stocks"):
            self.groups["beds_per_1000"] = self.stocks["hospital_beds"] / max(total, 1) * 1000
            self.school_use = pupils[0] / max(self.stocks["school_seats_seat"], 1.0)
        else:
            self.groups["beds_per_1000"] = 6.0
            self.school_use = 1.0
        self._old_by_place = by_place[:, AC_OLD]

    def _collect(self, collect_flows: bool) -> None:
        g, y, rec = self.groups, self.year, self.records
        s = self.stocks
        def put(ind, val, place="county"):
            rec.append((y, place, ind, float(val)))
        total = g["residents"]
        def per(num, den, k=1.0):
            return num / den * k if den > 0 else math.nan
        put("resident_population", total)
        put("registered_population", g["registered"])
        put("outside_population", g["outside"])
        put("urban_population", g["urban_residents"])
        put("urbanization_rate", per(g["urban_residents"], total))
        put("county_seat_population", g["seat_residents"])
        put("households", self.n_households)
        put("mean_household_size", per(total, self.n_households))
        put("share_age_0_14", per(g["age_0_14"], total))
        put("share_age_60_plus", per(g["age_60_plus"], total))
        for k in FLOWS:
            put(k, self.flows.get(k, 0.0) if collect_flows else math.nan)
        jobs = self.labour.jobs.sum(axis=0)
        put("jobs_total", jobs.sum())
        put("jobs_nonfarm", jobs.sum() - jobs[0])
        for i, sec in enumerate(SECTORS):
            put(jobs_in(sec), jobs[i])
        sector = self.persons.sector[self.persons.alive]
        put("farm_workers", np.sum(sector == FARMING) * self.weight)
        seekers = np.sum((sector >= 0) & (sector != FARMING))
        jobless = np.sum(sector == UNEMPLOYED)
        put("wage_job_shortfall_rate", per(jobless, seekers))
        # census definition: informal work counts as employment; only a share of those without a
        # wage job have no work at all (parameters.csv)
        put("unemployment_rate", per(self.params["census_unemployed_share_of_jobless"] * jobless,
                                     np.sum(sector >= 0)))
        spend = self.government.spend_by_area if collect_flows else np.full(len(TASK_AREAS), math.nan)
        for i, area in enumerate(TASK_AREAS):
            put(jobs_created_in(area), self.government.jobs_by_area[i])
            put(investment_in(area), spend[i])
        put("investment_total", spend.sum())
        put("investment_unspent", self.government.unspent if collect_flows else math.nan)
        put("school_seats_per_pupil", per(s["school_seats_seat"] + s["school_seats_other"], g["pupils"]))
        put("hospital_beds_per_1000", per(s["hospital_beds"], total, 1000))
        put("elderly_beds_per_1000_60plus",
            per(s["care_beds_nursing"] + s["care_beds_other"], g["age_60_plus"], 1000))
        put("childcare_places_per_1000",
            per(s["childcare_places_inclusive"] + s["childcare_places_other"], total, 1000))
        for ind, val in indicator_values(s, g, self.n_big_towns, self._queued()).items():
            put(ind, val)
        for ind, val in self.ratios.values(y, s, g).items():
            put(ind, val)
        # by place
        K, r = self.K, self.residents
        put("resident_population", r[0], "county_seat")
        put("resident_population", r[1:K].sum(), "towns")
        put("resident_population", r[K:2 * K].sum(), "villages")
        put("resident_population", r[-1], "outside")
        put("employment_chance", self.labour.chance[0], "county_seat")
        town_pop = r[K:2 * K] + np.append(0.0, r[1:K])
        hh_by_place = self.occupied[K:2 * K] + np.append(0.0, self.occupied[1:K])
        old = self._old_by_place * self.weight
        old_t = old[K:2 * K] + np.append(0.0, old[1:K])
        for t, pl in enumerate(self.places):
            name = pl.name
            put("resident_population", town_pop[t], name)
            empty = town_pop[t] <= 0
            put("empty", float(empty), name)
            put("mean_household_size", math.nan if empty else town_pop[t] / hh_by_place[t], name)
            put("share_age_60_plus", math.nan if empty else old_t[t] / town_pop[t], name)

    def timeseries(self, scenario: str | None = None, replicate: int = 0) -> pd.DataFrame:
        """Collected indicators in long format.

        Returns
        -------
        pandas.DataFrame
            Columns ``scenario, replicate, year, place, indicator, value``; one row per year,
            place and indicator; NaN (never inf) where a denominator is empty.
        """
        frame = pd.DataFrame(self.records, columns=["year", "place", "indicator", "value"])
        frame.insert(0, "replicate", replicate)
        frame.insert(0, "scenario", scenario or self.scenario.name)
        return frame

    def close(self) -> None:
        """Release the model from Mesa's class-level id registry (Mesa ≤ 3.3 keeps every model
        that created an agent alive through ``mesa.Agent._ids``)."""
        ids = getattr(mesa.Agent, "_ids", None)
        if isinstance(ids, dict):
            ids.pop(self, None)
        self.remove_all_agents()


def n_agents(expected: float, rng: np.random.Generator) -> int:
    """Number of agents for an expected count in agent units, by unbiased stochastic rounding.

    ``floor(x)`` plus one with probability ``x - floor(x)`` (no draw when ``x`` is whole), so at
    any scale the weighted total over years equals the full-scale count in expectation;
    ``round(x)`` would make a rare event (x < 0.5 every year) never happen at small scale.
    """
    whole = math.floor(expected)
    frac = expected - whole
    return int(whole) + int(frac > 0 and rng.random() < frac)


def check_scenario(scenario: Scenario, data: CountyData | None = None) -> None:
    """Check a scenario against its data without building a population.

    Raises
    ------
    ConfigError
        Unknown parameter or programme names (with the nearest valid name).
    DataError
        Missing or inconsistent input tables.
    """
    data = data or load_county_cached(scenario.data_dir)
    CountyModel._parameters(scenario, data)
    programmes = Programmes(data.programmes)
    src = getattr(scenario, "_source", None) or "scenario"
    for block in (scenario.history, scenario.policy):
        programmes.weights(block, src)
