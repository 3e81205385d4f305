"""The government's year in one compiled call (``stock_kernels._year``) equals the former
``Government.invest`` and ``Government.complete`` (kept here as the reference; their kernels are
tested against NumPy in ``tests/test_fixed_costs.py``)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from urban_sim.config import load_scenario
from urban_sim.config.schema import TASK_AREAS
from urban_sim.errors import DataError
from urban_sim.model.county import CountyModel
from urban_sim.policy import government as gov
from urban_sim.services import stock_kernels as yk
from urban_sim.policy.allocation import (
    PLACE_ROWS, building_standards, new_building_share, place_masks, place_weight_rows,
)
from urban_sim.policy.government import SEWAGE
from urban_sim.population.state import SECTORS
from urban_sim.services.stocks import NEW_BUILDING_SHARES
from urban_sim.targets import indicator_values, sites


def _invest_and_complete_reference(g, budget, shares, weights, need, room, queued, cost_factor,
                                   early_share, residents, place_type, qikou, year, attrition):
    # Government.invest then Government.complete before they were fused (main 32af227), with
    # the place rows of place_weight_rows (NumPy) and the results as new arrays
    p = g.programmes
    n_places = len(residents)
    with np.errstate(invalid="ignore"):  # 0 / 0 in a row without places
        place_rows = place_weight_rows(residents, place_type, qikou)
    pm = place_rows.take(p.place_row, axis=0)
    headroom = yk._headroom(room, queued, p.stock_code, p.abs_unit_size)
    area_budget = (budget + g.carried) * shares
    spend, g.spend_by_area = yk._allocate(
        area_budget, weights, need, p.available_from, year, headroom, p.unit_cost,
        cost_factor, p.area, g.pipeline, p.lag, p.early_lag, min(max(early_share, 0.0), 1.0))
    g.unspent = max(float(area_budget.sum() - spend.sum()), 0.0)
    g.carried = g.unspent
    yk._construction_jobs(g.construction, g.construction_place, spend, p.construction_jobs,
                           p.duration, p.area, pm, np.arange(len(pm)))
    units = g.pipeline[0]
    direct = np.zeros((n_places, len(SECTORS)))
    yk._operating_jobs(direct, units, p.unit_size, p.operating_jobs, p.job_sector, p.sector, pm,
                       np.arange(len(pm)))
    additions, built, operating = yk._completed(units, p.unit_size, p.creates_jobs, p.stock_code,
                                                 p.area, p.jobs_per_unit, len(p.stock_names),
                                                 len(TASK_AREAS))
    g.operating_jobs_by_area = g.operating_jobs_by_area * (1 - attrition) + operating
    construction_jobs = g.construction_place[0].copy()
    g.jobs_by_area = g.construction[0] + g.operating_jobs_by_area
    yk._advance(g.pipeline, g.construction, g.construction_place)
    return additions, built & ~p.new_building, direct, construction_jobs, place_rows


class _Government:
    """The state of a :class:`government.Government` without its Mesa model."""

    invest_and_complete = gov.Government.invest_and_complete
    _carry = gov.Government._carry
    _place_masks = gov.Government._place_masks

    def __init__(self, programmes, n_places, rng):
        k = len(programmes)
        self.programmes = programmes
        self.pipeline = rng.random((gov.MAX_LAG, k)) * (rng.random((gov.MAX_LAG, k)) < 0.3)
        self.construction = rng.random((gov.MAX_LAG, len(TASK_AREAS))) * 10
        self.construction_place = rng.random((gov.MAX_LAG, n_places))
        self.operating_jobs_by_area = rng.random(len(TASK_AREAS)) * 100
        self.carried = float(rng.random() * 50)
        self.spend_by_area, self.jobs_by_area = np.zeros(len(TASK_AREAS)), np.zeros(len(TASK_AREAS))
        self.unspent = 0.0
        n_stocks = len(programmes.stock_names)
        self.additions, self.built = np.zeros(n_stocks), np.zeros(n_stocks, dtype=bool)
        self.direct_jobs = np.zeros((n_places, len(SECTORS)))
        self.construction_jobs = np.zeros(n_places)
        self.place_rows = np.zeros((5, n_places))
        self.spend = np.zeros(k)
        self._places = None

    def state(self):
        return (self.pipeline, self.construction, self.construction_place,
                self.operating_jobs_by_area, self.jobs_by_area, self.spend_by_area,
                np.array([self.carried, self.unspent]))


@pytest.mark.parametrize("copies", [1, 3])
def test_year_kernel_equals_invest_then_complete(lin_data, copies):
    """The compiled year against the Python steps; three copies of the programme table (195
    programmes) take NumPy's sums of the unspent budget (more than one block of 128)."""
    import pandas as pd

    prog = gov.Programmes(pd.concat([lin_data.programmes] * copies, ignore_index=True))
    k, n_stocks = len(prog), len(prog.stock_names)
    for t in range(40 if copies == 1 else 8):
        rng = np.random.default_rng(t)
        n_towns = int(rng.integers(1, 15)) if t != 39 else 80  # t = 39: above one block of 128
        n_places = 2 * n_towns
        fused, ref = _Government(prog, n_places, np.random.default_rng(t)), \
            _Government(prog, n_places, np.random.default_rng(t))
        place_type = np.concatenate([[0], np.ones(n_towns - 1, int), np.full(n_towns, 2)])
        qikou = (rng.random(n_places) < 0.3) & (place_type == 1) & (t % 3 > 0)
        residents = rng.random(n_places) * 1000 * (rng.random(n_places) < 0.8)
        if t % 4 == 0:  # nobody in the towns, or nowhere
            residents[place_type == 1 if t % 8 else slice(None)] = 0.0
        room = np.where(rng.random(n_stocks) < 0.3, np.inf, rng.random(n_stocks) * 50)
        room[rng.random(n_stocks) < 0.1] = 0.0
        args = (float(rng.random() * 2000), rng.dirichlet(np.ones(len(TASK_AREAS))),
                rng.random(k) * 2, np.where(rng.random(k) < 0.5, 1.0, 0.1), room,
                rng.random(k) * 5 * (rng.random(k) < 0.5), 1.0 + rng.random(),
                float(rng.random() * 1.2 - 0.1), residents, place_type, qikou,
                int(rng.integers(2015, 2036)), float(rng.random() * 0.1))
        for year in range(3):  # the state carries over from one year to the next
            got = [a.copy() for a in fused.invest_and_complete(*args)]
            want = _invest_and_complete_reference(ref, *args)
            for a, b in zip((*got, *fused.state()), (*want, *ref.state()), strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (t, year)
    assert got[0].any() and got[1].any() and got[2].any() and got[3].any()


def test_place_rows_kernel_equals_place_weight_rows():
    # the compiled rows against the NumPy rule (allocation.place_weight_rows) at every length
    # of one block of NumPy's pairwise sum, with empty rows and NaN
    rng = np.random.default_rng(5)
    for n in range(1, 129):
        place_type = np.concatenate([[0], rng.integers(1, 3, n - 1)])
        qikou = rng.random(n) < 0.2
        for case in range(3):
            residents = rng.random(n) * 10.0 ** rng.integers(-3, 6, n)
            if case == 1:
                residents[place_type == 2] = 0.0
            if case == 2 and n > 3:
                residents[rng.integers(0, n)] = np.nan
            with np.errstate(invalid="ignore"):  # 0 / 0 in a row without places
                want = place_weight_rows(residents, place_type, qikou)
            got = np.full_like(want, -1.0)
            yk._place_rows(residents, place_masks(place_type, qikou), got)
            assert np.array_equal(got, want, equal_nan=True), (n, case)


def _programme_room_reference(stocks, names, index, groups, site_counts, standard, new_m2):
    # allocation.programme_room (main ace3b35): Stocks.rooms, sites left, new floor area
    # not yet meeting the standard
    room = stocks.rooms(names, groups)
    for name, n in site_counts.items():
        left = max(n - stocks[name], 0.0)
        if name in index:
            room[index[name]] = left
    for name in NEW_BUILDING_SHARES:  # programme units are 1000 m² of funded floor area
        if name in index:
            room[index[name]] = (1.0 - standard[name]) * new_m2 / 1000.0
    return room


def _government_investment_reference(self):
    # county.CountyModel.government_investment before its room, need, depreciation and
    # additions joined the compiled year (main ace3b35)
    p, t, st, g, prog = self.params, self.year, self.stocks, self.government, self.programmes
    need_of, tops = g.rules(self.targets)
    queued = g.queued()
    values = indicator_values(st, self.groups, self.n_big_towns, prog.queued_of(SEWAGE, queued))
    town_use = self.housing_use[1:]  # np.mean's sum and division, without its dispatch
    use = [self.school_use, self.housing_use[0], float(np.add.reduce(town_use) / len(town_use)),
           6.0 / max(self.groups["beds_per_1000"], 1e-9)]  # allocation.USE_STOCKS
    new_m2 = self.new_dwellings * p["floor_area_per_new_dwelling_m2"]
    standard = building_standards(p, t)
    room = _programme_room_reference(
        st, prog.stock_names, prog.stock_index, self.groups,
        self.relocation.sites(sites(tops, self.groups, self.n_big_towns)), standard, new_m2)
    gov_eff = st["governance_efficiency"]
    shares = self._shares.get(id(self.block))
    if shares is None:  # the block's task-area shares (the scenario's blocks do not change)
        shares = self._shares[id(self.block)] = np.array(
            [getattr(self.block.investment.task_area_shares, a) for a in TASK_AREAS])
    amounts, built, self._direct_jobs, self._construction_jobs, pw = g.invest_and_complete(
        self.finance.fund(t, self.budget, float(self.housing[0])), shares,
        self.weights[id(self.block)], need_of(values, t, use), room, queued,
        self.uncertainties.construction_cost_multiplier * (1 + 0.3 * (1 - gov_eff)),
        p["governance_early_completion"] * gov_eff, self.residents[: self.n_places],
        self.place_type, self.qikou_place, t, p["job_attrition_rate"])
    st.depreciate()
    st.add_all(prog.stock_names, amounts, built, self.groups)
    amounts, at = amounts.tolist(), prog.stock_index.get
    def added(name: str) -> float:  # the amount added to a stock, 0.0 if no programme builds it
        i = at(name)
        return 0.0 if i is None else amounts[i]
    for name in NEW_BUILDING_SHARES:
        st[name] = new_building_share(standard[name], added(name) * 1000.0, new_m2)
    self.childcare.private_supply(st, self.groups["childcare_demand"])
    self._homesteads_to_withdraw = added("homestead_withdrawn")
    self.relocation.move(self, added("relocated_households"))
    self.housing[0] += added("housing_units_seat")
    self.housing[1:] += added("housing_units_towns") * pw[PLACE_ROWS.index("towns")][1:self.K]


@pytest.mark.parametrize("name,start,seed", [("plan", 2020, 3), ("baseline", 2010, 4),
                                             ("fiscal_constraint", 2020, 5)])
def test_invest_and_add_equals_the_python_steps(lin_data, name, start, seed):
    """The government phase with room, need, year, depreciation and additions in one compiled
    call (Government.invest_and_add) leaves stocks, government, dwellings, flows, persons and
    the generator as the Python steps did, year after year (relocation moves in the plan)."""
    sc = load_scenario(name, {"scale": 0.02, "start_year": start, "end_year": start + 12})
    new, ref = CountyModel(sc, data=lin_data, seed=seed), CountyModel(sc, data=lin_data, seed=seed)
    ref.government_investment = types.MethodType(_government_investment_reference, ref)
    moved = 0.0
    while new.year < sc.end_year:
        new.step()
        ref.step()
        assert new.stocks.value == ref.stocks.value, new.year
        assert list(new.stocks.value) == list(ref.stocks.value)
        for k in ("pipeline", "construction", "construction_place", "operating_jobs_by_area",
                  "jobs_by_area", "spend_by_area"):
            assert np.array_equal(getattr(new.government, k), getattr(ref.government, k)), k
        assert new.government.carried == ref.government.carried
        assert np.array_equal(new.housing, ref.housing) and new.flows == ref.flows
        assert np.array_equal(new.persons.loc, ref.persons.loc)
        assert new.rng.bit_generator.state == ref.rng.bit_generator.state
        moved += new.relocation.households
    assert moved > 0 or name != "plan"
    assert new.timeseries().equals(ref.timeseries())


def test_invest_and_add_raises_for_a_missing_stock(lin_data):
    """A site stock missing from the table raises as Stocks[name] does; so does a stock with
    additions (after the compiled call, before the table is written)."""
    sc = load_scenario("plan", {"scale": 0.02, "end_year": 2022})
    m = CountyModel(sc, data=lin_data, seed=1)
    del m.stocks.value["good_hospitals"]
    with pytest.raises(DataError, match="no stock named 'good_hospitals'"):
        m.government_investment()
