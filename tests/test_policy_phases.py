"""What the exogenous-inputs and government phases keep between years and between models
(:mod:`urban_sim.policy.phases`, :meth:`urban_sim.policy.government.Government.queued`,
``Government._stock_layout``) gives what computing it afresh gives."""

from __future__ import annotations

import numpy as np

from urban_sim.config import load_scenario
from urban_sim.model.county import CountyModel
from urban_sim.policy import phases


def test_exogenous_inputs_are_shared_by_models_of_one_scenario(lin_data):
    """Two models of one scenario object share the year's inputs, equal to fresh ones; a model
    of another scenario object or other parameters gets its own."""
    sc = load_scenario("plan", {"scale": 0.01, "end_year": 2027})
    other = load_scenario("plan", {"scale": 0.01, "end_year": 2027,
                                   "parameters.wage_seat_yuan": 30000.0})
    a, b = CountyModel(sc, data=lin_data, seed=1), CountyModel(sc, data=lin_data, seed=2)
    c = CountyModel(other, data=lin_data, seed=1)
    for year in (2021, 2024, 2026):
        for m in (a, b, c):
            m.year = year
            m.exogenous_inputs()
            block, u, wage, fallback, q, f, budget = phases.exogenous_values(m, year)
            assert m.block is block and m.uncertainties is u and m.budget == budget
            for got, want in ((m.wage, wage), (m.fallback, fallback), (m.mortality, q),
                              (m.fertility, f)):
                assert np.array_equal(got, want)
        assert a.wage is b.wage and a.mortality is b.mortality
        assert a.wage is not c.wage and a.wage[0] != c.wage[0]
    sc2 = load_scenario("plan", {"scale": 0.01, "end_year": 2027})  # equal, another object
    d = CountyModel(sc2, data=lin_data, seed=1)
    d.year = 2026
    d.exogenous_inputs()
    assert d.wage is not a.wage and np.array_equal(d.wage, a.wage)


def test_a_scenario_changed_in_place_between_models_is_seen(lin_data):
    """A scenario object changed in place (pydantic assignment: the uncertainties replaced,
    the plan's budget set) after one model ran gives the next model the inputs of the
    changed scenario, as a fresh copy does (review of session 9: the memo was keyed by the
    object only and handed out the old wages and budget); the shared arrays are read-only."""
    sc = load_scenario("plan", {"scale": 0.01, "end_year": 2027})
    first = CountyModel(sc, data=lin_data, seed=1)
    first.year = 2026
    first.exogenous_inputs()
    sc.uncertainties = sc.uncertainties.model_copy(
        update={"local_wage_growth_rate_per_year": 0.09})
    sc.policy.investment.total_million_yuan = 1500.0
    fresh = CountyModel(sc.model_copy(deep=True), data=lin_data, seed=1)
    again = CountyModel(sc, data=lin_data, seed=1)
    for m in (fresh, again):
        m.year = 2026
        m.exogenous_inputs()
    assert again.wage[0] != first.wage[0] and again.budget != first.budget
    assert np.array_equal(again.wage, fresh.wage) and again.budget == fresh.budget
    assert np.array_equal(again.fallback, fresh.fallback)
    for a in (again.wage, again.fallback, again.mortality, again.fertility):
        assert not a.flags.writeable


def test_queued_is_kept_until_the_pipeline_changes(lin_data):
    """Government.queued is computed once a year: after each government year and after its
    pipeline is replaced it equals the sum over the pipeline again."""
    sc = load_scenario("plan", {"scale": 0.01, "end_year": 2026})
    m = CountyModel(sc, data=lin_data, seed=3)
    g = m.government
    while m.year < sc.end_year:
        m.step()  # the compiled year leaves next year's queued additions (tested bit by bit)
        want = g.pipeline.sum(axis=0) * g.programmes.unit_size
        assert np.array_equal(g.queued().view(np.int64), want.view(np.int64))
        assert g.queued() is g.queued()
    assert g.queued().any()
    g.pipeline = g.pipeline * 2.0
    assert np.array_equal(g.queued(), g.pipeline.sum(axis=0) * g.programmes.unit_size)


def test_stock_layout_is_shared_and_follows_the_table(lin_data):
    """Models with the same stock table share the government's stock layout; a table with a
    stock less gets its own (another reader and other positions)."""
    sc = load_scenario("plan", {"scale": 0.01, "end_year": 2022})
    a, b = CountyModel(sc, data=lin_data, seed=1), CountyModel(sc, data=lin_data, seed=2)
    for m in (a, b):
        m.step()
    names = a.government._sites[1]
    la = a.government._stock_layout(a.stocks, names)
    assert la is b.government._stock_layout(b.stocks, names)
    gone = next(n for n in b.government.programmes.stock_names
                if n in b.stocks.value and n not in names
                and n not in {d[0] for d in b.stocks.depreciation})
    del b.stocks.value[gone]
    lb = b.government._stock_layout(b.stocks, names)
    assert lb is not la and gone not in lb[0] and len(lb[0]) == len(la[0]) - 1
    want = np.array([lb[0].index(n) if n in lb[0] else -1
                     for n in b.government.programmes.stock_names])
    assert np.array_equal(lb[2], want)


def test_packed_constants_are_the_layout_and_need_rule_and_follow_them(lin_data):
    """The two tables that the compiled year reads (pack_constants) hold each array of the
    stock layout and need rule, section by section, as the kernel slices them; models with the
    same layout and rule share them; a table with a stock more, or another need rule, gets
    its own."""
    from urban_sim.policy.government import _packed
    from urban_sim.services.stock_kernels import _section

    sc = load_scenario("plan", {"scale": 0.01, "end_year": 2022})
    a, b = CountyModel(sc, data=lin_data, seed=1), CountyModel(sc, data=lin_data, seed=2)
    for m in (a, b):
        m.step()
    ga, gb = a.government, b.government
    assert ga._packed is gb._packed and ga._packed[0] is ga._stocks_seen[3]
    lay, need, ints, floats, prog = ga._packed
    assert need is ga.rules(a.targets)[0] and prog is ga.programmes and not ints.flags.writeable
    want = [lay[2], lay[3], lay[4], lay[8], lay[9], lay[10], lay[12], lay[13], lay[15],
            need.target_indicator, need.programme_indicator, need.use_row, need.use_k,
            prog.columns_i.ravel(), prog.new_building]
    for j, w in enumerate(want):
        got = _section(ints, j)
        assert got.dtype == np.int64 and np.array_equal(got, np.asarray(w).astype(np.int64)), j
    assert ints[len(want)] == len(ints)
    assert np.array_equal(floats, np.concatenate([lay[6], lay[7], lay[14], need.low,
                                                  need.shift_low, need.shift_high, need.high,
                                                  prog.columns_f.ravel()]))
    b.stocks.value = {"a_stock_no_programme_builds": 1.0, **b.stocks.value}  # positions move
    b.step()
    assert gb._packed is not ga._packed and gb._packed[0] is gb._stocks_seen[3]
    old = _section(ints, 0)
    assert np.array_equal(_section(gb._packed[2], 0), np.where(old >= 0, old + 1, -1))
    assert np.array_equal(_section(gb._packed[2], 0), gb._packed[0][2])
    other = _packed(lay, type(need)(ga.programmes.stock, {}, []), prog)
    assert other[1] is not need and other is not ga._packed


def test_building_standards_are_shared_by_models_with_the_same_parameters(lin_data):
    """The standards of a year are those of building_standards, computed once for the same
    standard parameters and anew for others."""
    from urban_sim.policy.allocation import building_standards

    p = dict(lin_data.parameters)
    q = {**p, "green_building_share_standard_rate": p["green_building_share_standard_rate"] * 2}
    for year in (2015, 2024, 2031):
        a, b = phases._standards(lin_data, p, year), phases._standards(lin_data, dict(p), year)
        assert a is b and a == building_standards(p, year)
        c = phases._standards(lin_data, q, year)
        assert c == building_standards(q, year) and c != a


def test_compiled_choice_equals_numpy_choice():
    """draws.choice gives rng.choice(a, k, replace=False)'s picks and leaves the generator in
    its state (128-bit state, buffered 32-bit half), for populations on both sides of
    Floyd's limit, with and without a 32-bit half kept before the call."""
    from urban_sim.policy.draws import choice
    from urban_sim.policy.institution_kernels import FLOYD_MAX_POPULATION

    floyd = 0  # draws of a population within Floyd's limit (the compiled path)
    for t in range(600):
        draw = np.random.default_rng(t)
        n = int(draw.integers(1, 40) if t % 4 == 0 else draw.integers(1, FLOYD_MAX_POPULATION + 2000))
        k = int(draw.integers(1, min(n, 400) + 1))
        a = np.arange(n, dtype=np.intp) * 3 + 1
        r1, r2 = np.random.default_rng(1000 + t), np.random.default_rng(1000 + t)
        for r in (r1, r2):
            r.random(t % 3)
            if t % 2:
                r.integers(0, 100)  # a 32-bit draw: its other half is kept
        got, want = choice(r1, a, k), r2.choice(a, size=k, replace=False)
        assert got.dtype == want.dtype and np.array_equal(got, want), (t, n, k)
        assert r1.bit_generator.state == r2.bit_generator.state, (t, n, k)
        assert r1.integers(0, 10**6) == r2.integers(0, 10**6) and r1.random() == r2.random()
        floyd += n <= FLOYD_MAX_POPULATION
    assert floyd > 300


def test_a_wrong_layout_of_the_kept_half_is_caught(monkeypatch):
    """The probe of the kept 32-bit half's place fails for a view 4 bytes off (a fresh
    generator's (0, 0) would not show it), and choice then takes NumPy's draws: the same
    picks and generator state."""
    import ctypes

    from urban_sim.policy import draws

    assert draws._extra_layout()  # NumPy's layout on this platform

    def off_by_four(bg):
        address = bg.ctypes.state_address + ctypes.sizeof(ctypes.c_void_p) + 4
        return np.ctypeslib.as_array((ctypes.c_uint32 * 2).from_address(address))

    draws._extra_layout.cache_clear()
    draws._EXTRA.clear()
    monkeypatch.setattr(draws, "_extra_view", off_by_four)
    try:
        assert not draws._extra_layout()
        r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
        assert draws._extra(r1.bit_generator) is None
        a = np.arange(300, dtype=np.intp)
        assert np.array_equal(draws.choice(r1, a, 13), r2.choice(a, size=13, replace=False))
        assert r1.bit_generator.state == r2.bit_generator.state
    finally:
        draws._extra_layout.cache_clear()
        draws._EXTRA.clear()


class _Reads(dict):
    """A parameter dict that records the keys read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def _keys(getter, params) -> set:
    rec = _Reads(params)
    getter(rec)
    return rec.read


def test_memo_keys_cover_the_parameters_read(lin_data):
    """Every parameter that a memoised computation reads is in the key of its memo: the
    exogenous inputs (EXOGENOUS_PARAMETERS), the building standards (_STANDARD_PARAMETERS)
    and the choice's per-run tables (choice._run_values); a parameter read but not keyed
    would hand one model another's values."""
    from urban_sim.policy.allocation import building_standards
    from urban_sim.population import choice as ch

    m = CountyModel(load_scenario("plan", {"scale": 0.01, "end_year": 2027}), data=lin_data,
                    seed=1)
    for year in (2021, 2026):
        m.params = rec = _Reads(m.params)
        phases.exogenous_values(m, year)
        assert rec.read and rec.read <= _keys(phases.EXOGENOUS_PARAMETERS, rec), year
        rec = _Reads(m.params)
        building_standards(rec, year)
        assert rec.read and rec.read <= _keys(phases._STANDARD_PARAMETERS, rec), year
    rec = _Reads(m.params)
    geo = (m.v_dist_centre, m.v_dist_seat, m.t_dist_seat, m.v_township)
    ch._compute_run_tables(geo, rec)
    assert rec.read and rec.read <= _keys(ch._run_values, rec)
