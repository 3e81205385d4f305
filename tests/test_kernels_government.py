"""The government's year in one compiled call (``year_kernels._year``) equals the former
``Government.invest`` and ``Government.complete`` (kept here as the reference; their kernels are
tested against NumPy in ``tests/test_fixed_costs.py``)."""

from __future__ import annotations

import numpy as np

from urban_sim.config.schema import TASK_AREAS
from urban_sim.policy import government as gov
from urban_sim.policy import year_kernels as yk
from urban_sim.policy.allocation import place_masks, place_weight_rows
from urban_sim.population.state import SECTORS


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
                           p.duration, p.area, pm)
    units = g.pipeline[0]
    direct = np.zeros((n_places, len(SECTORS)))
    yk._operating_jobs(direct, units, p.unit_size, p.operating_jobs, p.job_sector, p.sector, pm)
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


def test_year_kernel_equals_invest_then_complete(lin_data):
    prog = gov.Programmes(lin_data.programmes)
    k, n_stocks = len(prog), len(prog.stock_names)
    for t in range(40):
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
