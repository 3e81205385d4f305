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

from urban_sim.config.schema import Scenario
from urban_sim.data.posterior import draw_parameters
from urban_sim.data.tables import CountyData, load_county, load_county_cached
from urban_sim.economy.labour import LabourMarket, tourism_start
from urban_sim.errors import ConfigError, did_you_mean
from urban_sim.model.malloc import tune_malloc
from urban_sim.policy.government import SEWAGE, Government, Programmes
from urban_sim.policy.financing import Financing
from urban_sim.policy.relocation import Relocation, read_items
from urban_sim.model.outputs import FLOWS
from urban_sim.model.collect import collect, frame
from urban_sim.model.tally import tally
from urban_sim.model.start import restore_perceived, restore_places
from urban_sim.policy import phases
from urban_sim.policy.institutions import land_and_institutions
from urban_sim.population import choice as ch
from urban_sim.population import demography
from urban_sim.population.choice_kernels import perceive
from urban_sim.population.kernels import counts_away_by_village
from urban_sim.population.migration import (
    WORKING_AGE, allocate_and_move, applicants, repair_bases, return_migration,
)
from urban_sim.population.migration_kernels import housing_and_vacancy
from urban_sim.population.state import (
    LOC_VILLAGE, SECTORS, Table,
)
from urban_sim.population.start_state import has_start_state, start_population
from urban_sim.population.synthesis import synthesize
from urban_sim.services.childcare import Childcare
from urban_sim.services.stocks import (
    ENVIRONMENT_PARTS, Stocks, amenity_and_congestion, environment_index,
    stock_rows,
)
from urban_sim.targets import (
    RatioDecomposition, queued_by_stock, scenario_targets,
)

_TREND_KEYS = tuple({"agriculture": "job_trend_industry", "industry": "job_trend_industry",
                     "services": "job_trend_services", "public": "job_trend_public"}.get(s)
                    for s in SECTORS)
"""Parameter of each sector's background job trend (None: none; agri-processing as industry)."""

PHASES = (
    "exogenous_inputs", "government_investment", "labour_market", "demography",
    "perceive_places", "location_choice", "capacity_allocation", "return_migration",
    "land_and_institutions", "services_and_indicators",
)
"""The annual schedule, in order (model.md §3)."""


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
        tune_malloc()  # heap instead of mmap for the column arrays (see urban_sim.model.malloc)
        ss = (seed if isinstance(seed, np.random.SeedSequence)
              else np.random.SeedSequence(scenario.seed if seed is None else seed))
        super().__init__(rng=ss)
        self.scenario = scenario
        self.data = data or load_county_cached(scenario.data_dir)
        self.params = self._parameters(scenario, self.data)
        if scenario.parameters_from == "posterior":  # one posterior particle per replicate
            draw = draw_parameters(self.data.data_dir, ss)
            self.params.update({k: v for k, v in draw.items() if k not in scenario.parameters})
        self.year = scenario.start_year
        self.weight = 1.0 / scenario.scale
        c = self.data.memo(("place_columns",), lambda: _place_columns(self.data))  # shared
        self.K = K = len(c["kind"])
        self.n_places = 2 * K
        self.OUT = 2 * K
        self.place_type = np.concatenate([[0], np.ones(K - 1, int), np.full(K, 2)])
        self.kind = c["kind"].copy()
        self.is_urban_place = np.zeros(2 * K + 1, dtype=bool)
        self.is_urban_place[0] = True
        self.is_urban_place[1:K] = self.kind[1:] == "town"
        qikou = c["qikou"]
        self.places = [Place(self, i, n, k, q) for i, n, k, q in c["place_args"]]
        self.qikou_place = np.zeros(2 * K, dtype=bool)
        self.qikou_place[1:K] = qikou[1:]
        self.v_dist_centre = c["v_dist_centre"].copy()
        self.v_dist_seat = c["v_dist_seat"].copy()
        self.t_dist_seat = c["t_dist_seat"].copy()
        self.v_township = c["v_township"].copy()
        t = np.arange(K)
        # place of a person by location code × K + township; the extra last entry (2K + 1) is
        # where _tally counts the dead
        self._place_lut = np.concatenate([K + t, t, np.zeros(K, np.int64), np.full(K, self.OUT),
                                          [2 * K + 1]])

        start: dict = {}  # state carried over from the simulated history (model/start.py)
        if has_start_state(self.data.data_dir, self.year):  # one history (docs/calibration.md)
            pcols, hcols, start = start_population(self.data.data_dir, self.year, scenario.scale, K,
                                            len(self.data.villages), self.rng)
        else:
            pcols, hcols = synthesize(self.data, self.year, scale=scenario.scale,
                                      params=self.params, rng=self.rng)
        self.persons, self.households = Table(pcols), Table(hcols)
        self.targets = scenario_targets(scenario, self.data)
        self.ratios = RatioDecomposition(max(scenario.policy.start_year - 1, scenario.start_year))
        self.flows: dict[str, float] = {}
        self.records: dict[str, list] = {k: [] for k in ("year", "rows", "template", "value")}
        self.childcare = Childcare(self.data.data_dir)
        w = read_items(self.data.data_dir, "environment", tuple(f"weight_{n}" for n in ENVIRONMENT_PARTS),
                       self.year)
        self.env_weights = {n: w[f"weight_{n}"] for n in ENVIRONMENT_PARTS} if w else {}
        counts = self._tally()  # tallied again below with stocks and dwellings: no one moves between
        rows = self.data.memo(("stock_rows", self.year), lambda: stock_rows(self.data.stock_values(self.year)))
        self.stocks = Stocks(rows, self.groups, self.params)
        self.housing = self.occupied[:K] * (1 + self.params["housing_vacancy_target"])
        self._housing_last = self.housing.sum()
        self.outside_last = math.nan  # registered members outside at the last collection
        self.new_dwellings = self._housing_last * self.params["new_dwelling_rate_start"]
        self._refused = np.zeros(K)
        self.labour = LabourMarket(self.labour_force[:2 * K], self.residents[:2 * K], self.place_type,
                                   self.params, tourism_start(self.params, self.year,
                                                              self.residents[:2 * K], self.qikou_place))
        self.programmes = self.data.memo(("programmes",), lambda: Programmes(self.data.programmes))
        src = getattr(scenario, "_source", None) or "scenario"
        self.weights = {id(b): self.programmes.weights(b, src) for b in (scenario.history, scenario.policy)}
        self._shares: dict[int, np.ndarray] = {}  # task-area shares by policy block
        self.government = Government(self, self.programmes, 2 * K)
        self.relocation = Relocation(self.data.data_dir, self.year)
        self.finance = Financing(self.data.data_dir, self.year, float(self.housing[0]))
        self.perceived: dict[str, np.ndarray] = {}
        self._vital = {r: self.data.memo(("vital", r), lambda r=r: demography.rate_schedules(
                           self.data.vital_rates, r)) for r in ("mortality", "fertility")}
        restore_places(self, start)
        self.exogenous_inputs()
        self.services_and_indicators(collect_flows=False, counts=counts)
        self._perceive(initial=True)
        restore_perceived(self, start)

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
        key = np.multiply(self.persons.loc.take(idx), self.K, dtype=np.intp)
        key += self.households.township.take(self.persons.hh.take(idx))
        return self._place_lut.take(key)

    # ------------------------------------------------------------------ the annual step
    def step(self) -> None:
        """Advance one year: run every phase of :data:`PHASES` in order."""
        self.year += 1
        self.flows = dict.fromkeys(FLOWS, 0.0)
        for phase in PHASES:
            getattr(self, phase)()

    def run(self, end_year: int | None = None, *, replicate: int = 0) -> pd.DataFrame:
        """Step until ``end_year`` (default the scenario's) and return :meth:`timeseries`
        (its ``replicate`` column set to ``replicate``)."""
        end = self.scenario.end_year if end_year is None else end_year
        while self.year < end:
            self.step()
        return self.timeseries(replicate=replicate)

    # 1 -----------------------------------------------------------------------------------
    def exogenous_inputs(self) -> None:
        """Inputs for the year: policy block in force, wages, vital rates, budget
        (:func:`urban_sim.policy.phases.exogenous_inputs`)."""
        phases.exogenous_inputs(self)

    # 2 -----------------------------------------------------------------------------------
    def government_investment(self) -> None:
        """Fund programmes, start projects, complete those whose lag has passed
        (:func:`urban_sim.policy.phases.government_investment`)."""
        phases.government_investment(self)

    def queued_additions(self) -> dict[str, float]:
        """Stock additions funded and under construction, by stock."""
        return queued_by_stock(self.programmes.stock, self.government.queued())

    def queued_sewage(self) -> dict[str, float]:
        """The town sewage plants of :meth:`queued_additions` (all that
        :func:`urban_sim.targets.indicator_values` reads of it)."""
        return self.programmes.queued_of(SEWAGE, self.government.queued())

    # 3 -----------------------------------------------------------------------------------
    def labour_market(self) -> None:
        """Update job stocks; Harris–Todaro chances; draw each worker's employment."""
        p = self.params
        trends = np.array([p[k] if k else 0.0 for k in _TREND_KEYS])
        tour = (p["job_trend_tourism"] * (1 + self.stocks["tourism_capacity"])
                + 0.05 * p["tourism_jobs_per_promotion"] * self.block.levers.tourism_promotion)
        self.job_growth = self.labour.year(
            self.residents[: self.n_places], self._direct_jobs, self._construction_jobs,
            trends=trends, params=p, qikou=self.qikou_place, tour=tour,
            seekers=self.labour_force[: self.n_places], persons=self.persons,
            township=self.households.township, place_lut=self._place_lut, K=self.K,
            working_age=WORKING_AGE, boost=p["training_employability_boost"], rng=self.rng)

    # 4 -----------------------------------------------------------------------------------
    def demography(self) -> None:
        """Ageing, deaths, births and household formation."""
        P = self.persons
        ev = demography.vital_events(P, self.households, self.mortality, self.fertility,
                                     self.params["household_formation_rate"], self.rng)
        self.flows["deaths"] = len(ev.dead) * self.weight
        abroad = np.int64(ev.born_outside)  # mother outside
        self.flows["births"] = (len(ev.born) - abroad) * self.weight
        self.flows["births_outside"] = abroad * self.weight
        repair_bases(self.persons, self.households)

    # 5 -----------------------------------------------------------------------------------
    def perceive_places(self) -> None:
        """Smoothed (perceived) income, amenity, congestion and network shares."""
        self._perceive(initial=False)

    def _perceive(self, *, initial: bool) -> None:
        p = self.params
        tau = max(p["perception_delay_years"], 1.0)
        P, H = self.persons, self.households  # network: absent members by village and location
        counts = counts_away_by_village(P.loc, P.hh, H.village, P.alive, LOC_VILLAGE,
                                        len(self.data.villages)).reshape(-1, 4)
        if not initial:  # the rule below in one compiled pass
            self.network = perceive(self.labour.chance, p["outside_job_chance"], self.wage,
                                     self.fallback, self.amenity, p["amenity_outside"],
                                     self.congestion, tau, self.perceived, counts)
            return
        chance = np.append(self.labour.chance, p["outside_job_chance"])
        income = chance * self.wage + (1 - chance) * self.fallback
        current = {"income": income, "amenity": np.append(self.amenity, p["amenity_outside"]),
                   "congestion": np.append(self.congestion, 0.0)}
        for key, value in current.items():
            self.perceived[key] = value.copy()
        self.network = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)  # shares

    # 6 -----------------------------------------------------------------------------------
    def location_choice(self) -> None:
        """Nested-logit choice of every household with members at its in-county base
        (:func:`urban_sim.population.migration.applicants`)."""
        p, lv = self.params, self.block.levers
        grow = (1 + p["housing_price_growth_rate_per_year"]) ** (self.year - 2020)
        cut = 1 - p["housing_support_price_cut"] * lv.housing_support_share
        # school quality by alternative and the town and seat prices, one array
        qp = np.array([p["school_quality_village"], p["school_quality_town"],
                       p["school_quality_seat"] * min(1.0, 1.0 / max(self.school_use, 1e-9)),
                       p["school_quality_outside"], p["housing_price_town_yuan_m2"] * grow * cut,
                       p["housing_price_seat_yuan_m2"] * grow * cut])
        ch.read_only(self.v_township, self.v_dist_centre, self.v_dist_seat, self.t_dist_seat)
        places = ch.PlaceInputs(
            income_yuan=self.perceived["income"], amenity=self.perceived["amenity"],
            congestion=self.perceived["congestion"], network_share=self.network,
            village_township=self.v_township, village_centre_km=self.v_dist_centre,
            village_seat_km=self.v_dist_seat, township_seat_km=self.t_dist_seat,
            school_quality=qp[:4], housing_price_yuan_m2=qp[4:],
            hukou_service_access=lv.hukou_service_access, land_reform=lv.land_reform)
        self._applicants = applicants(self.persons, self.households, places, p, self.rng)

    # 7 -----------------------------------------------------------------------------------
    def capacity_allocation(self) -> None:
        """Private housing supply, then the lottery over dwellings and county-seat school seats
        and the accepted moves (:func:`urban_sim.population.migration.allocate_and_move`)."""
        if self._applicants is None:
            return
        p, K = self.params, self.K
        # developers build toward the target vacancy rate, counting last year's refused as unmet
        # demand; free dwellings by township place; free seats at the seat (unbounded in towns)
        vacancy = housing_and_vacancy(
            self.occupied[:K], self._refused, self.housing, p["housing_vacancy_target"],
            p["housing_market_response"],
            max(self.stocks["school_seats_seat"] - self.groups["pupils_seat"], 0.0))
        moved = allocate_and_move(self.persons, self.households, self._applicants, vacancy,
                                  self.weight, p, self.rng)
        self._refused = moved.refused_by_place
        f = self.flows
        f["moves_village_to_seat"] += moved.village_to_seat
        f["moves_village_to_town"] += moved.village_to_town
        f["moves_to_outside"] += moved.to_outside
        f["new_county_seat_residents"] += moved.to_seat

    # 8 -----------------------------------------------------------------------------------
    def return_migration(self) -> None:
        """Members living outside return (:func:`urban_sim.population.migration.return_migration`)."""
        n, to_seat = return_migration(self.persons, self.households, self.params,
                                      self.stocks["talent_return_support"], self.job_growth, self.rng)
        self.flows["returns"] += n * self.weight
        self.flows["new_county_seat_residents"] += to_seat * self.weight

    # 9 -----------------------------------------------------------------------------------
    def land_and_institutions(self) -> None:
        """Land renting, homestead withdrawal, hukou conversion, training
        (:func:`urban_sim.policy.institutions.land_and_institutions`)."""
        land_and_institutions(self.persons, self.households, self.params, self.block.levers,
                              self._homesteads_to_withdraw, self.stocks["training_places"],
                              self.weight, self.rng)

    # 10 ----------------------------------------------------------------------------------
    def services_and_indicators(self, collect_flows: bool = True, counts: tuple | None = None) -> None:
        """Recompute demand, congestion and amenity with the new residents; collect indicators
        (``counts``: of :meth:`_tally` when no one moved since)."""
        self._tally(counts)
        self.stocks.cap_served(self.groups)
        if collect_flows:
            built = self.housing_total  # self.housing.sum() (of the tally)
            self.new_dwellings, self._housing_last = max(built - self._housing_last, 0.0), built
        env = (environment_index(self.stocks, self.env_weights, True),
               environment_index(self.stocks, self.env_weights, False))
        self.environment_seat = env[0]
        self.amenity, self.congestion = amenity_and_congestion(
            self.stocks, self.groups, self.housing_use_all, self.place_type, self.params,
            self.env_weights, environment=env)
        collect(self, collect_flows)

    # ------------------------------------------------------------------ tallies and output
    def _tally(self, counts: tuple | None = None) -> tuple:
        """Counts by place and population groups (:func:`urban_sim.model.tally.tally`)."""
        return tally(self, counts)

    def timeseries(self, scenario: str | None = None, replicate: int = 0) -> pd.DataFrame:
        """Collected indicators in long format.

        Returns
        -------
        pandas.DataFrame
            Columns ``scenario, replicate, year, place, indicator, value``; one row per year,
            place and indicator; NaN (never inf) where a denominator is empty.
        """
        return frame(self.records, scenario or self.scenario.name, replicate)

    def close(self) -> None:
        """Release the model from Mesa's class-level id registry (Mesa ≤ 3.3 keeps every model
        that created an agent alive through ``mesa.Agent._ids``)."""
        ids = getattr(mesa.Agent, "_ids", None)
        if isinstance(ids, dict):
            ids.pop(self, None)
        self.remove_all_agents()


def _place_columns(data: CountyData) -> dict:
    """Columns of the township and village tables a model copies at set-up (once per
    :class:`CountyData`, see :meth:`CountyData.memo`)."""
    tw, vil = data.townships, data.villages
    kind = tw["kind"].to_numpy()
    qikou = tw["qikou_scenic_area"].to_numpy(int) == 1
    return {"kind": kind, "qikou": qikou,
            "place_args": [(int(i), str(n), str(k), bool(q)) for i, n, k, q in zip(
                tw["township_id"].tolist(), tw["name_zh"].tolist(), kind.tolist(), qikou.tolist(),
                strict=True)],
            "v_dist_centre": vil["distance_to_centre_km"].to_numpy(float),
            "v_dist_seat": vil["distance_to_seat_km"].to_numpy(float),
            "t_dist_seat": tw["distance_to_seat_km"].to_numpy(float),
            "v_township": vil["township_id"].to_numpy(np.int64)}


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
    Childcare(data.data_dir)  # childcare.csv is read apart from the other tables: check it too
    src = getattr(scenario, "_source", None) or "scenario"
    for block in (scenario.history, scenario.policy):
        programmes.weights(block, src)
