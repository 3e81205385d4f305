"""Compiled replacements of per-run and per-year bookkeeping give the same results as the NumPy
and Python code they replaced (kept here as the reference; docs/performance.md, issue 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from urban_sim.config import load_scenario
from urban_sim.model import CountyModel
from urban_sim.policy import government as gov
from urban_sim.services import stock_kernels as yk
from urban_sim.errors import DataError
from urban_sim.population.migration import presence
from urban_sim.services.stocks import (
    GROUP_OF_STOCK, LOWER_IS_BETTER, REMOTE_SERVED, SHARE_STOCKS, Stocks,
)


def _construction_reference(construction, construction_place, jobs_per_year, duration, area, pw_rows):
    for d in range(construction.shape[0]):
        active = d < duration
        if not active.any():
            break
        construction[d] += np.bincount(area, weights=np.where(active, jobs_per_year, 0),
                                       minlength=construction.shape[1])
        for i in np.flatnonzero(active & (jobs_per_year > 0)):
            construction_place[d] += jobs_per_year[i] * pw_rows[i]


def test_construction_and_operating_job_kernels_equal_the_python_loops():
    rng = np.random.default_rng(3)
    n, lag, places = 40, 8, 12
    jobs = rng.random(n) * 100 * (rng.random(n) < 0.8)
    duration = rng.integers(1, 5, n)
    area = rng.integers(0, 8, n)
    pw = rng.random((n, places))
    a1, b1 = rng.random((lag, 8)), rng.random((lag, places))
    a2, b2 = a1.copy(), b1.copy()
    before = b1.copy()
    spend, per_million = jobs * rng.random(n) * 4, rng.random(n) * 3
    # the jobs a year as Government.invest computed them by NumPy (integer duration)
    jobs = spend * per_million / duration
    yk._construction_jobs(a1, b1, spend, per_million, duration, area, pw, np.arange(n))
    _construction_reference(a2, b2, jobs, duration, area, pw)
    assert np.array_equal(a1, a2) and np.array_equal(b1, b2)
    assert (b1[3] != before[3]).any() and (b1[5] == before[5]).all()  # lags 1-4 only
    units = rng.random(n) * (rng.random(n) < 0.7)
    size, op = rng.random(n) * 10, rng.random(n) * (rng.random(n) < 0.5)
    job_sector = np.where(rng.random(n) < 0.3, rng.integers(0, 5, n), -1)
    sector = rng.integers(0, 5, n)
    direct = np.zeros((places, 6))
    yk._operating_jobs(direct, units, size, op, job_sector, sector, pw, np.arange(n))
    ref = np.zeros((places, 6))
    for i in np.flatnonzero(units > 0):
        if job_sector[i] >= 0:
            ref[:, job_sector[i]] += units[i] * size[i] * pw[i]
        elif op[i] > 0:
            ref[:, sector[i]] += units[i] * op[i] * pw[i]
    assert np.array_equal(direct, ref) and ref.any()


def test_relocation_reads_presence_flags_that_are_current(lin_data):
    """Relocation uses the last tally's presence flags: they must equal fresh ones at the time
    of investment every year (a phase that moved persons before investment would break it)."""
    sc = load_scenario("plan", {"scale": 0.02, "end_year": 2029})
    m = CountyModel(sc, data=lin_data, seed=3)
    original, checked = m.relocation.move, []

    def move(model, households):
        assert np.array_equal(model.presence, presence(model.persons, len(model.households)))
        checked.append(households)
        return original(model, households)

    m.relocation.move = move
    try:
        m.run()
    finally:
        m.close()  # the wrapper makes a reference cycle: release the model from Mesa's registry
    assert len(checked) == 9 and max(checked) > 0


def test_weighted_sample_is_numpys_choice_without_replacement():
    from urban_sim.policy.relocation import weighted_sample

    checked = 0
    for t in range(300):
        r = np.random.default_rng(t)
        n = int(r.integers(1, 2000))
        k = int(r.integers(1, n + 1))
        w = r.random(n) ** 3 * (r.random(n) < (0.6 if t % 3 else 1.0))
        if np.count_nonzero(w) < k:
            continue
        a, b = np.random.default_rng(t + 1), np.random.default_rng(t + 1)
        assert np.array_equal(weighted_sample(a, w / w.sum(), k),
                              b.choice(n, size=k, replace=False, p=w / w.sum())), t
        assert a.random() == b.random()  # the generators are in the same state
        checked += 1
    assert checked > 150
    with pytest.raises(ValueError, match="non-zero"):
        weighted_sample(np.random.default_rng(0), np.array([0.0, 1.0]), 2)
    for bad, message in (([np.nan, 1.0], "not finite"), ([-0.5, 1.5], "non-negative"),
                         ([0.5, 0.6], "sum to 1")):
        with pytest.raises(ValueError, match=message):  # NumPy's choice refuses these too
            weighted_sample(np.random.default_rng(0), np.array(bad), 1)
        with pytest.raises(ValueError):
            np.random.default_rng(0).choice(2, size=1, replace=False, p=np.array(bad))


def _allocate_reference(area_budget, w, headroom, cost, area, pipeline, lag, early):
    """Government.invest's allocation before it was compiled (main df6315f)."""
    spend = np.zeros(len(w))
    with np.errstate(invalid="ignore"):  # inf headroom × zero cost, discarded by the where
        cap_spend = np.where(np.isfinite(headroom), np.maximum(headroom, 0) * cost, np.inf)
    for _ in range(3):
        left = area_budget - np.bincount(area, weights=spend, minlength=len(area_budget))
        open_ = (spend < cap_spend - 1e-9) & (w > 0)
        wsum = np.bincount(area, weights=np.where(open_, w, 0.0), minlength=len(area_budget))
        add = np.where(open_, left[area] * w / np.where(wsum[area] > 0, wsum[area], 1.0), 0.0)
        spend = np.minimum(spend + add, cap_spend)
    units = spend / np.where(cost > 0, cost, np.inf)
    idx = np.arange(len(w))
    np.add.at(pipeline, (lag, idx), units * (1.0 - early))
    np.add.at(pipeline, (np.maximum(lag - 1, 0), idx), units * early)
    return spend, np.bincount(area, weights=spend, minlength=len(area_budget))


def test_allocation_kernel_equals_the_numpy_rule():
    checked = 0
    for t in range(200):
        rng = np.random.default_rng(t)
        n = int(rng.integers(1, 70))
        area = rng.integers(0, 8, n)
        w = rng.random(n) * (rng.random(n) < 0.8)
        headroom = np.where(rng.random(n) < 0.5, np.inf, rng.normal(5, 5, n))
        cost = rng.random(n) * 3 * (rng.random(n) < 0.95)
        budget = rng.random(8) * 50
        lag = rng.integers(0, 8, n)
        early = float(rng.random() * (t % 2))
        p1 = rng.random((8, n)) * (t % 3 == 0)
        p2 = p1.copy()
        need = np.where(rng.random(n) < 0.5, 0.1, rng.random(n) * 2)
        available, year, factor = rng.integers(2015, 2030, n).astype(float), 2022, rng.random() * 2
        got = yk._allocate(budget, w, need, available, year, headroom, cost, factor, area, p1,
                            lag, np.maximum(lag - 1, 0), early)
        # the weights and costs as Government.invest computed them by NumPy
        ref = _allocate_reference(budget, w * need * (available <= year), headroom,
                                  cost * factor, area, p2, lag, early)
        assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1]), t
        assert np.array_equal(p1, p2), t
        checked += bool(np.isfinite(headroom).any() and (ref[0] > 0).any())
    assert checked > 100  # capped and funded programmes in most cases


def test_allocation_kernel_equals_the_numpy_rule_at_its_edges():
    """Cases the random draws above miss: a programme left within 1e-9 of its cap by the first
    round is closed (the rest of its area's budget stays unspent), and NaN spending stays NaN
    (``np.minimum`` propagates it) instead of being capped."""
    budget = np.array([2.0, np.nan, 0, 0, 0, 0, 0, 0])
    w = np.array([0.5 - 2.5e-10, 0.5 + 2.5e-10, 1.0])
    headroom, cost = np.array([1.0, 0.5, 3.0]), np.ones(3)
    area, lag = np.array([0, 0, 1]), np.array([1, 2, 0])
    p1, p2 = np.zeros((8, 3)), np.zeros((8, 3))
    got = yk._allocate(budget, w, np.ones(3), np.zeros(3), 0, headroom, cost, 1.0, area, p1, lag,
                        np.maximum(lag - 1, 0), 0.25)
    ref = _allocate_reference(budget, w, headroom, cost, area, p2, lag, 0.25)
    for a, b in ((got[0], ref[0]), (got[1], ref[1]), (p1, p2)):
        assert np.array_equal(a, b, equal_nan=True)
    assert 1.0 - 1e-9 < ref[0][0] < 1.0 and ref[0][1] == 0.5 and np.isnan(ref[0][2])


def _need_reference(stocks_of_programmes, indicator_of_stock, targets, values, year, use):
    """The need rule before it was prepared once per target list (main df6315f)."""
    need = np.ones(len(stocks_of_programmes))
    by_indicator = {}
    for t in targets:
        by_indicator.setdefault(t.indicator, []).append(t)
    met = {}
    for i, stock in enumerate(stocks_of_programmes):
        if stock in use:
            need[i] = min(max(use[stock] / 0.9, 0.2), 2.0)
            continue
        ind = indicator_of_stock.get(stock)
        if ind is None:
            continue
        if ind not in met:
            mine = by_indicator.get(ind, [])
            ahead = [t for t in mine if t.year >= year] or mine[-1:]
            met[ind] = bool(ahead) and all(t.met(values[ind]) for t in ahead)
        if met[ind]:
            need[i] = 0.1
    return need


def test_need_rule_equals_the_python_loop(lin_data):
    from urban_sim.policy.allocation import USE_STOCKS, Need
    from urban_sim.targets import INDICATOR_OF_STOCK, load_targets

    stocks = gov.Programmes(lin_data.programmes).stock
    targets = load_targets(lin_data.plan_targets)
    rule = Need(stocks, INDICATOR_OF_STOCK, targets)
    rng = np.random.default_rng(5)
    seen = set()
    for k in range(300):
        values = {}
        for t in targets:  # values near each target: some met, some not, some NaN
            v = (t.target_high if t.operator == "between" and rng.random() < 0.5 else t.target)
            values[t.indicator] = (np.nan if rng.random() < 0.03 else
                                   v + rng.choice([-1e-9, -1e-10, 0.0, 1e-10, 1e-9, 0.5, -0.5]))
        use = rng.random(len(USE_STOCKS)) * 3
        year = int(rng.integers(2015, 2040))
        got = rule(values, year, use.tolist())
        ref = _need_reference(stocks, INDICATOR_OF_STOCK, targets, values, year,
                              dict(zip(USE_STOCKS, use.tolist())))
        assert np.array_equal(got, ref), k
        seen.update(np.unique(ref).round(6).tolist())
    assert {0.1, 1.0} <= seen and len(seen) > 3  # maintenance, unmet and capacity needs


def test_need_rule_with_targets_out_of_year_order(lin_data):
    """After the last target year the last target in table order counts, before it every
    target still ahead (also when the table is not in year order and an earlier target is the
    stricter one, as a scenario's own targets appended after the plan's may make it)."""
    from dataclasses import replace

    from urban_sim.policy.allocation import USE_STOCKS, Need
    from urban_sim.targets import INDICATOR_OF_STOCK, load_targets

    stocks = gov.Programmes(lin_data.programmes).stock
    plan = load_targets(lin_data.plan_targets)
    rng = np.random.default_rng(8)
    differs = 0
    for k in range(40):
        targets = [replace(plan[i], target=plan[i].target * rng.choice([0.5, 1.0, 1.5]))
                   if plan[i].operator != "between" else plan[i] for i in rng.permutation(len(plan))]
        rule = Need(stocks, INDICATOR_OF_STOCK, targets)
        values = {t.indicator: t.target + rng.choice([-0.5, 0.0, 0.5]) for t in targets}
        use = rng.random(len(USE_STOCKS)) * 3
        for year in range(2018, 2040):
            got = rule(values, year, use.tolist())
            ref = _need_reference(stocks, INDICATOR_OF_STOCK, targets, values, year,
                                  dict(zip(USE_STOCKS, use.tolist())))
            assert np.array_equal(got, ref), (k, year)
            differs += not np.array_equal(ref, _need_reference(
                stocks, INDICATOR_OF_STOCK, plan, values, year, dict(zip(USE_STOCKS, use.tolist()))))
    assert differs  # the order of the table matters in some cases


def _approach_reference(x, d, lo, hi, overshoot):
    w = (hi - lo) * (1.0 + overshoot)
    if d >= 0:
        if x >= hi:
            return x
        h = lo + w
        return min(hi, h - (h - x) * math.exp(-d / w))
    if x <= lo:
        return x
    h = hi - w
    return max(lo, h + (x - h) * math.exp(d / w))


def _nominal_reference(x, goal, lo, hi, overshoot):
    w = (hi - lo) * (1.0 + overshoot)
    if goal >= x:
        h = lo + w
        return w * math.log((h - x) / max(h - goal, 1e-12)) if x < hi else 0.0
    h = hi - w
    return w * math.log((x - h) / max(goal - h, 1e-12)) if x > lo else 0.0


def _add_reference(st, name, amount, groups):
    """Stocks.add before it was compiled (main df6315f)."""
    def group(name):
        return max(groups[GROUP_OF_STOCK[name]], 1e-9) if name in GROUP_OF_STOCK and groups else 1.0
    v = st.value[name]
    if name in SHARE_STOCKS or (name in REMOTE_SERVED and groups is not None):
        g = group(name)
        lo, hi = st.bounds[name]
        st.value[name] = _approach_reference(v / g, amount / g, lo, hi, st.overshoot) * g
    elif name in GROUP_OF_STOCK and groups is not None:
        cap = st.bounds[name][1] * group(name)
        st.value[name] = max(min(v + amount, max(v, cap)), 0.0)
    else:
        st.value[name] = max(v + amount, 0.0)


def _room_reference(st, name, groups):
    """Stocks.room before it was compiled (main df6315f)."""
    if not (name in SHARE_STOCKS or (name in GROUP_OF_STOCK and groups is not None)):
        return math.inf
    g = max(groups[GROUP_OF_STOCK[name]], 1e-9) if name in GROUP_OF_STOCK and groups else 1.0
    lo, hi = st.bounds[name]
    if name not in SHARE_STOCKS and name not in REMOTE_SERVED:
        return max(hi * g - st.value[name], 0.0)
    goal = lo if name in LOWER_IS_BETTER else hi
    return _nominal_reference(st.value[name] / g, goal, lo, hi, st.overshoot) * g


def test_stock_additions_and_room_equal_the_python_rules(lin_data):
    names = tuple(sorted(SHARE_STOCKS)) + tuple(GROUP_OF_STOCK) + ("hospital_beds", "seat_road_km")
    table = lin_data.stock_values(2020)
    kinds = set()
    for t in range(60):
        rng = np.random.default_rng(t)
        groups = {g: float(rng.choice([0.0, 50.0, 3000.0, 1e5])) for g in set(GROUP_OF_STOCK.values())}
        params = {"share_overshoot": float(rng.random() * 0.2)}
        params.update({f"floor_{n}": 0.1 for n in names[::7]})
        params.update({f"ceiling_{n}": 0.9 for n in names[::5]})
        a, b = Stocks(table, groups, params), Stocks(table, groups, params)
        for st in (a, b):  # the same random state in both: values inside, at and past the bounds
            r = np.random.default_rng(t + 100)
            for n in names:
                st.value[n] = float(r.choice([0.0, 0.1, 0.5, 0.9, 1.0, 1.3, 1e3, 5e4, r.random()]))
        g = None if t % 5 == 0 else groups
        room = a.rooms(names, g)
        ref = [_room_reference(b, n, g) for n in names]
        assert np.array_equal(room, ref), t
        amounts = rng.choice([0.0, 1e-3, 0.2, 3.0, 1e3, 1e5, -0.3, -50.0], len(names))
        mask = rng.random(len(names)) < 0.8
        a.add_all(names, amounts, mask, g)
        for n, x, m in zip(names, amounts.tolist(), mask.tolist()):
            if m:
                _add_reference(b, n, x, g)
        assert a.value == b.value, t
        kinds.update(np.sign(np.array(ref) - 1e-300).tolist())
    assert {-1.0, 1.0} <= kinds  # zero and positive room both seen
    with pytest.raises(DataError, match="no stock named 'nowhere'"):
        a.add_all(("hospital_beds", "nowhere"), np.ones(2), np.ones(2, bool), groups)
    assert np.isinf(a.rooms(("nowhere",), groups)).all()


def test_stock_rules_without_overshoot_and_depreciation(lin_data):
    """``share_overshoot`` 0 (the 1e-12 floor of the room's logarithm is reached) gives what
    the Python rules give; depreciation is the former rule over the table's rates (shares that
    programmes lower drift up toward 1, everything else decays)."""
    names = tuple(sorted(SHARE_STOCKS)) + tuple(GROUP_OF_STOCK) + ("hospital_beds",)
    table = lin_data.stock_values(2020)
    groups = {g: 3000.0 for g in set(GROUP_OF_STOCK.values())}
    a, b = Stocks(table, groups, {"share_overshoot": 0.0}), Stocks(table, groups, {"share_overshoot": 0.0})
    for st in (a, b):
        r = np.random.default_rng(1)
        for n in names:
            st.value[n] = float(r.choice([0.0, 0.2, 0.5, 0.99]) * (1.0 if n in SHARE_STOCKS else 3000.0))
    room = a.rooms(names, groups)
    assert np.array_equal(room, [_room_reference(b, n, groups) for n in names])
    assert np.isfinite(room[: len(SHARE_STOCKS)]).all() and (room > 0).any()
    amounts = np.linspace(-0.4, 2.0, len(names))
    a.add_all(names, amounts, np.ones(len(names), bool), groups)
    for n, x in zip(names, amounts.tolist()):
        _add_reference(b, n, x, groups)
    assert a.value == b.value
    rates = table["depreciation_rate_per_year"].astype(float).fillna(0.0)
    a.depreciate()
    for name, rate in rates.items():  # Stocks.depreciate before its list (main df6315f)
        if rate:
            if name in LOWER_IS_BETTER:
                b.value[name] += rate * (1.0 - b.value[name])
            else:
                b.value[name] *= 1.0 - rate
    assert a.value == b.value
    assert any(rates[n] for n in LOWER_IS_BETTER if n in rates) and (rates > 0).sum() > 3


def _relocate_reference(chosen, u, share, town, township, hh, alive, loc, base, years, withdrawn,
                        housing, w, home, seat_code, town_code):
    """Relocation.move's moves before they were compiled (main df6315f)."""
    seat = (u < share) | ~town[township[chosen]]
    dest = np.where(seat, seat_code, town_code).astype(np.int8)
    to = np.full(len(base), -1, dtype=np.int8)
    to[chosen] = dest
    who = np.flatnonzero((to[hh] >= 0) & alive & (loc == home))
    dest_p = to.take(hh.take(who))
    loc[who] = dest_p
    base[chosen] = dest
    years[chosen] = 0
    withdrawn[chosen] = True
    housing[0] += np.sum(seat) * w
    np.add.at(housing, township[chosen[~seat]].astype(np.intp), w)
    return len(who), int(np.sum(dest_p == seat_code))


def test_relocation_kernel_equals_the_numpy_moves():
    from urban_sim.policy.relocation import _relocate

    moved = np.zeros(2)
    for t in range(50):
        rng = np.random.default_rng(t)
        n_h, n_p, K = int(rng.integers(5, 300)), int(rng.integers(5, 900)), 6
        township = rng.integers(0, K, n_h).astype(np.int16)
        town = rng.random(K) < 0.6
        hh = np.sort(rng.integers(0, n_h, n_p)).astype(np.int32)
        chosen = rng.choice(n_h, int(rng.integers(0, min(n_h, 20) + 1)), replace=False)
        u = rng.random(len(chosen))
        cols = [rng.random(n_p) < 0.9, rng.integers(0, 4, n_p).astype(np.int8),
                rng.integers(0, 4, n_h).astype(np.int8), rng.integers(0, 9, n_h).astype(np.int16),
                rng.random(n_h) < 0.2, rng.random(K) * 100]
        mine, ref = [c.copy() for c in cols], [c.copy() for c in cols]
        got = _relocate(chosen, u, 0.4, town, township, hh, mine[0], mine[1], mine[2], mine[3],
                        mine[4], mine[5], 2.5, 0, 2, 1)
        want = _relocate_reference(chosen, u, 0.4, town, township, hh, ref[0], ref[1], ref[2],
                                   ref[3], ref[4], ref[5], 2.5, 0, 2, 1)
        assert tuple(got) == want, t
        for a, b in zip(mine, ref, strict=True):
            assert np.array_equal(a, b), t
        moved += want
    assert moved[0] > moved[1] > 0  # persons moved, to the seat and to towns


def _place_weights_reference(residents, place_type, qikou_place):
    """place_weights row by row (main df6315f)."""
    def norm(mask):
        w = np.where(mask, residents, 0.0)
        if w.sum() <= 0:
            w = mask.astype(float)
        return w / w.sum()
    towns = norm(place_type == 1)
    return {"county": norm(np.ones(len(residents), bool)), "towns": towns,
            "villages": norm(place_type == 2),
            "qikou_towns": norm(qikou_place) if qikou_place.any() else towns}


@pytest.mark.filterwarnings("ignore:invalid value")  # 0/0 where a small case has no towns
def place_weights(residents, place_type, qikou):
    """The rows of place_weight_rows by their key of PLACE_ROWS."""
    from urban_sim.policy.allocation import PLACE_ROWS, place_weight_rows

    return dict(zip(PLACE_ROWS, place_weight_rows(residents, place_type, qikou)))


def test_place_weights_equal_the_row_by_row_rule():

    for t in range(300):
        rng = np.random.default_rng(t)
        n = int(rng.integers(3, 120))
        place_type = np.concatenate([[0], rng.integers(1, 3, n - 1)])
        residents = rng.random(n) * 10.0 ** rng.integers(0, 6, n) * (rng.random(n) < 0.9)
        if t % 7 == 0:
            residents[place_type == 1] = 0.0  # empty towns: evenly over them
        qikou = (place_type == 1) & (rng.random(n) < 0.3 * (t % 3 > 0))
        got = place_weights(residents, place_type, qikou)
        for key, ref in _place_weights_reference(residents, place_type, qikou).items():
            assert np.array_equal(got[key], ref, equal_nan=True), (t, key)  # NaN: no towns
        assert got["county_seat"][0] == 1.0 == got["county_seat"].sum()



def test_each_programme_reads_its_place_row(lin_data):
    from urban_sim.errors import DataError
    from urban_sim.policy.allocation import PLACE_ROWS, place_weight_rows

    prog = gov.Programmes(lin_data.programmes)
    rng = np.random.default_rng(3)
    place_type = np.concatenate([[0], rng.integers(1, 3, 30)])
    residents, qikou = rng.random(31) * 100.0, (place_type == 1) & (rng.random(31) < 0.5)
    rows = place_weight_rows(residents, place_type, qikou)
    pw = place_weights(residents, place_type, qikou)
    assert tuple(pw) == PLACE_ROWS
    assert np.array_equal(pw["county_seat"], np.eye(31)[0])  # 1 at the seat, exactly
    assert len(set(prog.place)) > 2  # the table uses several keys
    for i, key in enumerate(prog.place):  # the row of its key that stock_kernels._year reads
        assert np.array_equal(rows[prog.columns_i[5, i]], pw[key]), (i, key)
    table = lin_data.programmes.copy()
    table.loc[table.index[3], "place"] = "townz"
    with pytest.raises(DataError, match="townz"):
        gov.Programmes(table)

def test_completed_units_kernel_equals_the_bincounts():
    for t in range(100):
        rng = np.random.default_rng(t)
        n, n_stocks = int(rng.integers(1, 70)), 12
        units = rng.random(n) * (rng.random(n) < 0.6)
        size, per_unit = rng.normal(1, 2, n), rng.random(n) * (rng.random(n) < 0.5)
        creates, code, area = rng.random(n) < 0.3, rng.integers(0, n_stocks, n), rng.integers(0, 8, n)
        got = yk._completed(units, size, creates, code, area, per_unit, n_stocks, 8)
        done = (units > 0) & ~creates  # Government.complete before it was compiled (main 62285f6)
        ref = (np.bincount(code[done], weights=(units * size)[done], minlength=n_stocks),
               np.bincount(code[done], minlength=n_stocks) > 0,
               np.bincount(area, weights=units * per_unit, minlength=8))
        for a, b in zip(got, ref, strict=True):
            assert np.array_equal(a, b), t
    assert ref[1].any() and not ref[1].all()


def test_relocation_candidates_equal_the_numpy_selection():
    from urban_sim.policy.relocation import _candidates

    for t in range(30):
        rng = np.random.default_rng(t)
        n_h, n_v = int(rng.integers(0, 500)), 40
        flags = rng.random(4 * n_h + 1) < 0.5
        presence = flags[:-1].reshape(-1, 4)  # as the tally leaves them
        base, village = rng.integers(0, 3, n_h).astype(np.int8), rng.integers(0, n_v, n_h)
        remote = rng.random(n_v)
        cand, p = _candidates(presence, base, village, remote, 0)
        ref = np.flatnonzero(presence[:, 0] & (base == 0))  # Relocation.move before (main 8303fd5)
        assert np.array_equal(cand, ref) and np.array_equal(p, remote.take(village.take(ref))), t
    assert 0 < len(ref) < n_h


# ------------------------------------------------------------- yearly collection (model/collect.py)
def _collect_reference(model, collect_flows, rec):
    """model.collect.collect before its rows shared a template (main 2a413ff)."""
    from urban_sim.config.schema import TASK_AREAS
    from urban_sim.economy.labour import FARMING, UNEMPLOYED
    from urban_sim.luliang import comparison, read_averages
    from urban_sim.model.collect import TOWNSHIP_OUTPUTS
    from urban_sim.model.outputs import FLOWS, investment_in, jobs_created_in, jobs_in
    from urban_sim.population.kernels import counts_by_sector
    from urban_sim.population.state import SECTORS
    from urban_sim.services.stocks import ENVIRONMENT_PARTS, environment_index
    from urban_sim.targets import indicator_values

    g, y, s = model.groups, model.year, model.stocks
    places, names, values = rec["place"], rec["indicator"], rec["value"]
    n0 = len(values)

    def put(ind, val, place="county"):
        places.append(place)
        names.append(ind)
        values.append(float(val))
    total = g["residents"]

    def per(num, den, k=1.0):
        return num / den * k if den > 0 else math.nan
    put("resident_population", total)
    put("registered_population", g["registered"])
    put("outside_population", g["outside"])
    put("urban_population", g["urban_residents"])
    put("urbanization_rate", per(g["urban_residents"], total))
    put("county_seat_population", g["seat_residents"])
    put("households", model.n_households)
    put("mean_household_size", per(total, model.n_households))
    put("share_age_0_14", per(g["age_0_14"], total))
    put("share_age_60_plus", per(g["age_60_plus"], total))
    for k in FLOWS:
        put(k, model.flows.get(k, 0.0) if collect_flows else math.nan)
    put("return_rate", per(model.flows.get("returns", 0.0), rec["outside_last"])
        if collect_flows else math.nan)
    rec["outside_last"] = g["outside"]
    jobs = model.labour.jobs.sum(axis=0)
    put("jobs_total", jobs.sum())
    put("jobs_nonfarm", jobs.sum() - jobs[0])
    for i, sec in enumerate(SECTORS):
        put(jobs_in(sec), jobs[i])
    by_sector = counts_by_sector(model.persons.sector, model.persons.alive, UNEMPLOYED + 1)
    put("farm_workers", by_sector[FARMING + 1] * model.weight)
    seekers = by_sector[1:].sum() - by_sector[FARMING + 1]
    jobless = by_sector[UNEMPLOYED + 1]
    put("wage_job_shortfall_rate", per(jobless, seekers))
    put("unemployment_rate", per(model.params["census_unemployed_share_of_jobless"] * jobless,
                                 by_sector[1:].sum()))
    spend = model.government.spend_by_area if collect_flows else np.full(len(TASK_AREAS), math.nan)
    for i, area in enumerate(TASK_AREAS):
        put(jobs_created_in(area), model.government.jobs_by_area[i])
        put(investment_in(area), spend[i])
    put("investment_total", spend.sum())
    put("investment_unspent", model.government.unspent if collect_flows else math.nan)
    put("school_seats_per_pupil", per(s["school_seats_seat"] + s["school_seats_other"], g["pupils"]))
    put("hospital_beds_per_1000", per(s["hospital_beds"], total, 1000))
    put("elderly_beds_per_1000_60plus",
        per(s["care_beds_nursing"] + s["care_beds_other"], g["age_60_plus"], 1000))
    put("childcare_places_per_1000",
        per(s["childcare_places_inclusive"] + s["childcare_places_other"], total, 1000))
    put("childcare_demand", g["childcare_demand"] if math.isfinite(g["childcare_demand"]) else math.nan)
    for name in ("flood_safety", *ENVIRONMENT_PARTS):
        put(name, s[name])
    put("environment_index", environment_index(s, model.env_weights, seat=True))
    for ind, val in indicator_values(s, g, model.n_big_towns, model.queued_additions()).items():
        put(ind, val)
    ratios = model.ratios  # values() sets its base in the reference year: the same twice
    for ind, val in ratios.values(y, s, g).items():
        put(ind, val)
    for ind, val in comparison(s, g, read_averages(model.data.data_dir, model.scenario.start_year)).items():
        put(ind, val)
    for ind, val in {**model.relocation.outputs(), **model.finance.outputs()}.items():
        put(ind, val if collect_flows or ind == "debt_outstanding" else math.nan)
    K, r = model.K, model.residents
    put("resident_population", r[0], "county_seat")
    put("resident_population", r[1:K].sum(), "towns")
    put("resident_population", r[K:2 * K].sum(), "villages")
    put("resident_population", r[-1], "outside")
    put("employment_chance", model.labour.chance[0], "county_seat")
    town_pop = r[K:2 * K] + np.append(0.0, r[1:K])
    hh_by_place = model.occupied[K:2 * K] + np.append(0.0, model.occupied[1:K])
    old = model.old_by_place * model.weight
    old_t = old[K:2 * K] + np.append(0.0, old[1:K])
    empty = town_pop <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(empty, math.nan, town_pop / hh_by_place)
        old_share = np.where(empty, math.nan, old_t / town_pop)
    values.extend(np.column_stack([town_pop, empty, size, old_share]).ravel().tolist())
    names.extend(TOWNSHIP_OUTPUTS * len(model.places))
    places.extend(name for pl in model.places for name in (pl.name,) * len(TOWNSHIP_OUTPUTS))
    rec["year"].append(y)
    rec["rows"].append(len(values) - n0)


@pytest.mark.parametrize("name,start,tiny", [("plan", 2020, False), ("fiscal_constraint", 2010, False),
                                             ("baseline", 2020, True)])
def test_collection_equals_the_reference_rows_and_frame(lin_data, tiny_dir, monkeypatch, name,
                                                         start, tiny):
    """Every year's rows (values, places, indicators) and the timeseries frame are those of the
    collection before templates (the tiny county has an empty township); a frame changed by its
    user leaves the shared columns unchanged; the model keeps the year's indicator values."""
    import pandas as pd

    from urban_sim.targets import indicator_values

    import urban_sim.model.county as county_module
    from urban_sim.data import load_county

    sc = load_scenario(name, {"scale": 1.0 if tiny else 0.02, "start_year": start,
                              "end_year": start + 4})
    rec = {k: [] for k in ("year", "rows", "place", "indicator", "value")}
    rec["outside_last"] = math.nan
    original = county_module.collect

    def both(model, collect_flows):
        _collect_reference(model, collect_flows, rec)
        original(model, collect_flows)
        year, values = model.indicators  # what government_investment reads next year
        ref = indicator_values(model.stocks, model.groups, model.n_big_towns, model.queued_additions())
        assert year == model.year and list(values) == list(ref)
        assert np.array_equal(list(values.values()), list(ref.values()), equal_nan=True)
    monkeypatch.setattr(county_module, "collect", both)
    for run in range(2):  # the second run reads the columns the first one left
        m = CountyModel(sc, data=load_county(tiny_dir) if tiny else lin_data, seed=5)
        try:
            ts = m.run()
        finally:
            m.close()
        ref = pd.DataFrame({
            "scenario": sc.name, "replicate": 0,
            "year": np.repeat(np.array(rec["year"], dtype=np.int64), rec["rows"]),
            "place": rec["place"], "indicator": rec["indicator"],
            "value": np.array(rec["value"], dtype=float)}, index=pd.RangeIndex(len(rec["value"])))
        assert rec["rows"] == m.records["rows"] and len(set(map(id, m.records["template"]))) == 1
        assert ts.equals(ref) and (ts.dtypes == ref.dtypes).all()
        assert np.array_equal(ts["value"].to_numpy(), ref["value"].to_numpy(), equal_nan=True)
        assert ts["value"].isna().any()  # start-year flows
        if tiny:
            assert (ts.loc[ts["indicator"] == "empty", "value"] == 1).any()
        ts.loc[0, "place"] = "changed"
        again = m.timeseries()
        assert again.equals(ref) and again["place"].iloc[0] == "county"
        for k in rec:
            rec[k] = [] if k != "outside_last" else math.nan


def test_township_rows_equal_the_numpy_rule():
    from urban_sim.model.collect import _township_rows

    rng = np.random.default_rng(8)
    for t in range(50):
        K = int(rng.integers(1, 30))
        r = rng.integers(0, 4, 2 * K + 1) * (rng.random(2 * K + 1) < 0.7) * 3.5
        occ = r / 2.5 * (rng.random(2 * K + 1) < 0.9)  # some persons without a household: inf
        if t % 5 == 0:
            r[K] = np.nan
        old = rng.integers(0, 3, 2 * K + 1)
        town_pop = r[K:2 * K] + np.append(0.0, r[1:K])
        hh = occ[K:2 * K] + np.append(0.0, occ[1:K])
        o = old * 3.5
        old_t = o[K:2 * K] + np.append(0.0, o[1:K])
        empty = town_pop <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.where(empty, math.nan, town_pop / hh)
            share = np.where(empty, math.nan, old_t / town_pop)
        ref = np.column_stack([town_pop, empty, size, share]).ravel()
        out = np.full(4 * K + 7, -1.0)
        assert _township_rows(r, occ, old, 3.5, K, out, 5) == 0
        assert np.array_equal(out[5:5 + 4 * K], ref, equal_nan=True), t
        assert (out[:5] == -1).all() and (out[5 + 4 * K:] == -1).all()  # nothing else written


# ------------------------------------------------------------------------ tallies (model/tally.py)
def _tally_reference(self):
    """model.tally.tally before its counts by place were compiled (main 2a413ff)."""
    from urban_sim.model.tally import AC_OLD, AC_PUPIL, AC_WORKING, AGE_CLASS, N_AGE_CLASSES
    from urban_sim.population.kernels import counts_and_presence
    from urban_sim.population.state import LOC_SEAT, LOC_TOWN, LOC_VILLAGE

    P, H, w, K = self.persons, self.households, self.weight, self.K
    nP = 2 * K + 1
    by_key, flags = counts_and_presence(P.loc, P.hh, H.township, P.alive, P.age, AGE_CLASS, K,
                                        N_AGE_CLASSES, len(H))
    by_key = by_key.reshape(4 * K + 1, -1)
    by_place = np.zeros((nP + 1, N_AGE_CLASSES), dtype=np.int64)
    np.add.at(by_place, self._place_lut, by_key)
    by_place = by_place[:nP]
    self.residents = by_place.sum(axis=1) * w
    self.labour_force = by_place[:, AC_WORKING] * w
    pupil_n = by_place[:, AC_PUPIL].copy()
    pupil_n[self.OUT] = 0
    resident = by_place[: self.OUT].sum(axis=0)
    pres = flags[:-1].reshape(-1, 4)
    self.presence = pres
    n_at = _households_at_numpy(pres.ravel(), H.township, K).reshape(K, 4)
    self.occupied = np.zeros(nP)
    self.occupied[K:2 * K] += n_at[:, LOC_VILLAGE] * w
    self.occupied[:K] += n_at[:, LOC_TOWN] * w
    self.occupied[0] += n_at[:, LOC_SEAT].sum() * w
    in_county = pres.view(np.uint32).ravel() & _IN_COUNTY_BYTES
    self.n_households = np.count_nonzero(in_county) * w
    self.housing_use_all = np.zeros(2 * K)
    if hasattr(self, "housing"):
        self.housing_use_all[:K] = self.occupied[:K] / np.maximum(self.housing, 1e-9)
    self.housing_use = self.housing_use_all[:K]
    self.housing_total = self.housing.sum() if hasattr(self, "housing") else math.nan  # services'
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
    self.zone_residents = self.residents[1:K].sum(), self.residents[K:2 * K].sum()  # collect's


_IN_COUNTY_BYTES = np.frombuffer(np.array([255, 255, 255, 0], np.uint8).tobytes(), np.uint32)[0]
"""Bytes of locations 0-2 (in the county) of a household's four presence flags read as one
uint32 (the byte order of the machine)."""


def _households_at_numpy(flags, township, K):
    """Households with a living member at each ``township × 4 + location``, from the presence
    flags (population.kernels.households_by_township_and_location before the tally's pass
    counted them)."""
    present = np.flatnonzero(flags)
    code = np.multiply(township.take(present >> 2), 4, dtype=np.intp)
    code += present & 3
    return np.bincount(code, minlength=4 * K)


_TALLIED = ("residents", "labour_force", "presence", "occupied", "n_households", "housing_use_all",
            "housing_use", "n_big_towns", "school_use", "old_by_place", "zone_residents",
            "housing_total")


@pytest.mark.parametrize("scale,start", [(0.03, 2020), (0.007, 2010), (0.3, 2020)])
def test_tally_equals_the_numpy_reference(lin_data, monkeypatch, scale, start):
    """Every tallied array, count and group, bit for bit, every year (weights 1/scale that are
    not whole numbers, so the order of the float sums shows), and at the start (no dwellings);
    the set-up's second tally reuses the first one's counts and must equal a fresh reference."""
    from types import SimpleNamespace

    import urban_sim.model.county as county_module

    original, checked, reused = county_module.tally, [], []

    def both(model, counts=None):
        ref = SimpleNamespace(**{k: getattr(model, k) for k in (
            "persons", "households", "weight", "K", "_place_lut", "OUT", "is_urban_place", "kind",
            "params", "year", "data", "childcare", *(("housing", "stocks") if hasattr(model, "stocks")
                                                      else ()))})
        _tally_reference(ref)
        reused.append(counts is not None)
        out = original(model, counts)
        for k in _TALLIED:
            a, b = getattr(model, k), getattr(ref, k)
            assert np.array_equal(a, b, equal_nan=True) and np.asarray(a).dtype == np.asarray(b).dtype, k
        assert model.groups.keys() == ref.groups.keys()
        for k, v in ref.groups.items():
            assert model.groups[k] == v and type(model.groups[k]) in (type(v), float), k
        checked.append(model.year)
        return out
    monkeypatch.setattr(county_module, "tally", both)
    m = CountyModel(load_scenario("plan", {"scale": scale, "start_year": start, "end_year": start + 3}),
                    data=lin_data, seed=6)
    m.run()
    m.close()
    assert len(checked) == 5 and 1 / scale != round(1 / scale)
    assert reused == [False, True, False, False, False]


def test_pairwise_sum_is_numpys_sum():
    from urban_sim.model.tally import _np_sum, np_sum

    rng = np.random.default_rng(9)
    for t in range(3000):
        n = int(rng.integers(0, 600)) if t % 3 else int(rng.integers(0, 20))
        a = rng.random(n) * 10.0 ** rng.integers(-4, 8, n) * rng.choice([-1.0, 1.0], n)
        ref = a.sum()
        for got in (_np_sum(a), np_sum(a)):
            assert got == ref and np.signbit(got) == np.signbit(ref), (t, n)
    assert _np_sum(np.array([-0.0])) == 0.0 and not np.signbit(_np_sum(np.array([-0.0])))


def test_output_sums_are_numpys_sums():
    """output_sums (the yearly outputs' job and spending totals) is ``jobs.sum(axis=0)``, its
    ``sum()`` and ``spend.sum()`` bit for bit, with magnitudes far apart (the order of the
    additions shows), signed zeros, NaN, no rows, one column and a table in Fortran order."""
    from urban_sim.model.tally import output_sums

    rng = np.random.default_rng(10)
    for t in range(2000):
        n, s, m = int(rng.integers(0, 60)), int(rng.integers(1, 12)), int(rng.integers(0, 20))
        jobs = rng.random((n, s)) * 10.0 ** rng.integers(-6, 12, (n, s)) * rng.choice([-1.0, 1.0], (n, s))
        spend = rng.random(m) * 10.0 ** rng.integers(-6, 12, m)
        if t % 7 == 0 and n:
            jobs[rng.integers(0, n), rng.integers(0, s)] = rng.choice([-0.0, np.nan])
        if t % 11 == 0:
            jobs = -np.zeros((n, s))
        if t % 13 == 0:
            jobs = np.asfortranarray(jobs)
        out = np.full(s + 2, 7.0)
        output_sums(jobs, spend, out)
        by_sector = jobs.sum(axis=0)
        ref = np.array([*by_sector, by_sector.sum(), spend.sum()])
        assert np.array_equal(out, ref, equal_nan=True), t
        assert (np.signbit(out) == np.signbit(ref)).all(), t


def test_pairwise_sum_of_a_slice_is_numpys_sum_of_the_slice():
    """``0.0 + _sum(a, lo, n)`` (the tally's zone sums) is ``a[lo:lo + n].sum()``, bit for bit,
    at any offset."""
    from urban_sim.model.tally import _sum

    rng = np.random.default_rng(10)
    for t in range(2000):
        n, lo = int(rng.integers(0, 300)), int(rng.integers(0, 40))
        a = rng.random(n + lo + 3) * 10.0 ** rng.integers(-4, 8, n + lo + 3)
        a *= rng.choice([-1.0, 1.0], len(a))
        ref = a[lo:lo + n].sum()
        got = 0.0 + _sum(a, lo, n)
        assert got == ref and np.signbit(got) == np.signbit(ref), (t, n, lo)


# ------------------------------------------------------------ government's yearly bookkeeping
def test_pipeline_advance_equals_the_numpy_shift():
    rng = np.random.default_rng(4)
    tables = [rng.random((8, 30)), rng.random((8, 8)), rng.random((8, 47))]
    ref = [t.copy() for t in tables]
    for arr in ref:
        arr[:-1] = arr[1:]
        arr[-1] = 0
    yk._advance(*tables)
    assert all(np.array_equal(a, b) for a, b in zip(tables, ref, strict=True))
    assert not tables[0][-1].any() and tables[2][0].any()


def test_queued_sewage_is_the_queued_additions_entry(lin_data):
    """The sum of the town sewage programmes' queue, bit for bit the bincount's, every year."""
    from urban_sim.targets import queued_by_stock

    m = CountyModel(load_scenario("plan", {"scale": 0.02, "end_year": 2030}), data=lin_data, seed=2)
    prog, seen = m.programmes, 0
    assert len(prog.rows_of["town_sewage_facilities"]) >= 1
    while m.year < 2030:
        m.step()
        full = m.queued_additions()
        assert m.queued_sewage() == {"town_sewage_facilities": full["town_sewage_facilities"]}
        seen += full["town_sewage_facilities"] > 0
    m.close()
    assert seen
    rng = np.random.default_rng(1)
    stocks = ["a", "town_sewage_facilities", "b", "town_sewage_facilities", "town_sewage_facilities"]
    fake = gov.Programmes.__new__(gov.Programmes)
    fake.rows_of = {"town_sewage_facilities": (1, 3, 4)}
    for _ in range(200):
        q = rng.random(5) * 10.0 ** rng.integers(-5, 5, 5)
        assert gov.Programmes.queued_of(fake, "town_sewage_facilities", q)["town_sewage_facilities"] == \
            queued_by_stock(stocks, q)["town_sewage_facilities"]
    fake.rows_of = {}
    assert gov.Programmes.queued_of(fake, "town_sewage_facilities", q) == {}


def test_stocks_from_read_rows_equal_stocks_from_the_table(lin_data):
    """A model's stocks start from the rows read once per CountyData (stock_rows): the same
    values, depreciation and errors as from the table."""
    from urban_sim.services.stocks import stock_rows

    for year in (2010, 2020):
        table = lin_data.stock_values(year)
        groups = {g: 1234.5 for g in set(GROUP_OF_STOCK.values())}
        a, b = Stocks(table, groups, {}), Stocks(stock_rows(table), groups, {})
        assert a.value == b.value and a.depreciation == b.depreciation and a.bounds == b.bounds
        assert any(u == "share_of_group" for _, _, u, _ in stock_rows(table))
    table.loc["hospital_beds", "unit"] = "share_of_group"
    with pytest.raises(DataError, match="share_of_group but no group"):
        Stocks(stock_rows(table), groups, {})


# ----------------------------------------------------- amenity and congestion (services/stocks.py)
def _amenity_reference(levels, place_type, housing_use, school_use, params):
    """The end of amenity_and_congestion before it was compiled (main 2a413ff)."""
    amenity = np.array(levels)[place_type]
    use = np.where(place_type == 2, 0.0, housing_use)
    use = np.where(place_type == 0, np.maximum(use, school_use), use)
    return amenity, np.maximum(0.0, use - params["congestion_threshold"]) ** params["congestion_curvature"]


def test_amenity_and_congestion_equal_the_numpy_rule():
    from urban_sim.services import stocks as sm

    rng = np.random.default_rng(12)
    for t in range(400):
        n = int(rng.integers(1, 60))
        place_type = rng.integers(0, 3, n)
        use = rng.choice([0.0, 0.5, 0.9, 1.0, 1.3, 7.0, np.nan, rng.random()], n)
        school = float(rng.choice([0.0, 0.9, 1.2, np.nan, rng.random() * 2]))
        params = {"congestion_threshold": float(rng.choice([0.0, 0.9, 1.0])),
                  "congestion_curvature": float(rng.choice([1.0, 2.0, 0.5, 1.7]))}
        levels = rng.random(3).tolist()
        got_a, excess = sm._amenity(place_type, np.array(levels), use, school,
                                    params["congestion_threshold"])
        ref_a, ref_c = _amenity_reference(levels, place_type, use, school, params)
        assert np.array_equal(got_a, ref_a)
        assert np.array_equal(excess ** params["congestion_curvature"], ref_c, equal_nan=True), t
    for t in range(2000):
        values = (rng.random(int(rng.integers(1, 8))) * 10.0 ** rng.integers(-3, 5)).tolist()
        if t % 7 == 0:
            values = [-0.0] * len(values)
        got, ref = sm._mean(values), np.add.reduce(np.array(values)) / len(values)
        assert got == ref and np.signbit(got) == np.signbit(ref) and ref == np.mean(values)


def test_file_stat_is_is_file_and_stat(tmp_path):
    """Input files are checked once per model with one os.stat: a regular file (also through a
    link) gives its stat, a folder, a missing file or a broken link None (as Path.is_file)."""
    from urban_sim.files import file_stat

    f = tmp_path / "a.csv"
    f.write_text("x\n")
    (tmp_path / "link.csv").symlink_to(f)
    (tmp_path / "broken.csv").symlink_to(tmp_path / "nowhere.csv")
    (tmp_path / "dir.csv").mkdir()
    for name in ("a.csv", "link.csv", "broken.csv", "dir.csv", "missing.csv"):
        p = tmp_path / name
        st = file_stat(str(p))
        assert (st is not None) == p.is_file(), name
        if st is not None:
            assert (st.st_mtime_ns, st.st_size) == (p.stat().st_mtime_ns, p.stat().st_size)


def test_frame_of_years_with_different_rows_is_the_frame_of_the_lists():
    """Years whose rows differ (no shared columns) give the frame pandas makes of the lists."""
    import pandas as pd

    from urban_sim.model.collect import frame, template

    a, b = template(("x",), ("t1",)), template(("x", "y"), ("t1",))
    assert template(("x",), ("t1",)) is a  # made once
    records = {"year": [2020, 2021], "rows": [len(a[0]), len(b[0])], "template": [a, b]}
    values = [float(i) for i in range(len(a[0]) + len(b[0]))]
    records["value"] = [np.array(values[:len(a[0])]), np.array(values[len(a[0]):])]  # by year
    got = frame(records, "s", 3)
    ref = pd.DataFrame({"scenario": "s", "replicate": 3,
                        "year": np.repeat(np.array([2020, 2021], dtype=np.int64), records["rows"]),
                        "place": [*a[0], *b[0]], "indicator": [*a[1], *b[1]],
                        "value": np.array(values)}, index=pd.RangeIndex(len(values)))
    assert got.equals(ref) and (got.dtypes == ref.dtypes).all()
    empty = frame({k: [] for k in ("year", "rows", "template", "value")}, "s", 0)  # no year
    assert len(empty) == 0 and list(empty.columns) == list(ref.columns)
    from urban_sim.model.collect import COUNTY_HEAD

    n = len(COUNTY_HEAD)
    assert got["indicator"].tolist()[n: n + 2] == ["x", "resident_population"]
    assert got["place"].tolist()[n: n + 2] == ["county", "county_seat"] and got["place"].iloc[-1] == "t1"


def test_frame_from_column_list_is_the_frame_from_the_dict(monkeypatch):
    """The shared-template frame made from its blocks and from its list of columns equals the
    frame pandas makes of the dict (the fallbacks), dtypes included, for an int, a NumPy int64
    and a NumPy int32 replicate; the cached columns are not changed through a frame."""
    import pandas as pd

    import urban_sim.model.collect as collect_module
    from urban_sim.model.collect import frame, template

    a = template(("x", "y"), ("t1", "t2"))
    n = len(a[0])
    records = {"year": [2020, 2021, 2022], "rows": [n] * 3, "template": [a] * 3,
               "value": [np.arange(n) + 0.5 * y for y in range(3)]}
    records["value"][1][2] = np.nan
    for replicate in (3, np.int64(7), np.int32(2)):
        changed = frame(records, "s", replicate)
        changed.loc[0, "place"] = "changed"  # not in the next frames
        changed.columns.name, changed.index.name = "c", "i"  # nor these names
        got = frame(records, "s", replicate)
        with monkeypatch.context() as m:
            m.setattr(collect_module, "_from_blocks", None)
            by_columns = frame(records, "s", replicate)
            m.setattr(collect_module, "_from_arrays", None)
            ref = frame(records, "s", replicate)
        for made in (got, by_columns):
            assert made.equals(ref) and (made.dtypes == ref.dtypes).all()
            pd.testing.assert_frame_equal(made, ref, check_exact=True)
        again = frame(records, "s", replicate)
        assert again["place"].iloc[0] == "county" and again.equals(ref)
        assert again.columns.name is None and again.index.name is None
    assert got["year"].tolist() == [2020] * n + [2021] * n + [2022] * n


def test_weights_check_equals_numpys_three_checks():
    from urban_sim.policy.relocation import _weights_check

    rng = np.random.default_rng(5)
    for t in range(500):
        p = rng.choice([0.0, -0.0, 1e-300, 0.3, 2.0, -1e-9, np.inf, -np.inf, np.nan],
                       int(rng.integers(0, 40)), p=[.2, .05, .05, .3, .2, .05, .05, .05, .05])
        with np.errstate(invalid="ignore"):
            ref = (bool(np.isfinite(p).all()), bool((p < 0).any()), int(np.count_nonzero(p > 0)))
        assert tuple(_weights_check(p)) == ref, (t, p)


def test_tally_dwelling_use_is_numpys_maximum_rule_with_nan_and_tiny_housing():
    """The tally's compiled dwelling use is ``occupied / np.maximum(housing, 1e-9)`` also for
    NaN housing (NaN, as np.maximum keeps it), no housing and tiny housing; its households at
    each place and in the county are the NumPy rules on the presence flags."""
    from urban_sim.model.tally import N_AGE_CLASSES, _by_place
    from urban_sim.population.state import LOC_SEAT, LOC_TOWN, LOC_VILLAGE

    K, rng = 4, np.random.default_rng(2)
    lut = np.concatenate([K + np.arange(K), np.arange(K), np.zeros(K, np.int64), np.full(K, 2 * K),
                          [2 * K + 1]])
    by_key = rng.integers(0, 5, len(lut) * N_AGE_CLASSES).astype(np.int64)
    n_hh = 60
    flags = rng.random(4 * n_hh + 1) < 0.4
    township = rng.integers(0, K, n_hh).astype(np.int16)
    housing = np.array([np.nan, 0.0, 1e-12, 3.5])
    is_urban = np.zeros(2 * K + 1, dtype=bool)
    is_urban[:2] = True
    out, old, sums = np.full((4, 2 * K + 1), np.nan), np.zeros(2 * K + 1, np.int64), np.empty(12)
    _, in_county = _by_place(by_key, lut, flags, township, 2.5, K, housing, True, is_urban, 1.0,
                             out, old, sums)
    occupied, use = out[2], out[3]
    assert np.array_equal(use[:K], occupied[:K] / np.maximum(housing, 1e-9), equal_nan=True)
    assert np.isnan(use[0]) and (use[K:] == 0).all()  # the last entry too (not a place)
    pres = flags[:-1].reshape(-1, 4)
    n_at = _households_at_numpy(pres.ravel(), township, K).reshape(K, 4)
    ref = np.zeros(2 * K + 1)
    ref[K:2 * K] += n_at[:, LOC_VILLAGE] * 2.5
    ref[:K] += n_at[:, LOC_TOWN] * 2.5
    ref[0] += n_at[:, LOC_SEAT].sum() * 2.5
    assert np.array_equal(occupied, ref)
    assert in_county == np.count_nonzero(pres.view(np.uint32).ravel() & _IN_COUNTY_BYTES)
    assert 0 < in_county < n_hh


def test_headroom_kernel_equals_the_numpy_rule():
    for t in range(100):
        rng = np.random.default_rng(t)
        n, n_stocks = int(rng.integers(1, 70)), int(rng.integers(1, 20))
        queued = rng.normal(0, 1, n) * 10.0 ** rng.integers(-3, 6, n) * (rng.random(n) < 0.7)
        size = np.abs(rng.normal(0, 50, n)) * (rng.random(n) < 0.95)  # 0: inf or NaN headroom
        code = rng.integers(0, n_stocks, n)
        room = np.where(rng.random(n_stocks) < 0.3, np.inf, rng.random(n_stocks) * 1e4)
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = (room.take(code) - np.abs(queued)) / size
            got = yk._headroom(room, queued, code, size)
        assert np.array_equal(got, ref, equal_nan=True), t


def test_exogenous_inputs_equal_the_former_rules(lin_data):
    """Wages and fallback incomes by place (levels by place kept for the run) and the vital
    rates in force (kept for the tables, by year and multipliers, at most 64) are the former
    NumPy expressions, for two models of the same tables with other multipliers; the cache of
    rates is bounded."""
    from urban_sim.population import demography

    models = [CountyModel(load_scenario("plan", {"scale": 0.01, "end_year": 2027,
                                                 "uncertainties.mortality_multiplier": m,
                                                 "uncertainties.fertility_multiplier": f}),
                          data=lin_data, seed=2) for m, f in ((1.0, 1.0), (1.3, 0.7))]
    for year in (2025, 2026):  # after the policy start: the scenario's multipliers
        for m in models:
            m.year = year
            m.exogenous_inputs()
            p, u = m.params, m.uncertainties
            local, outside = m.scenario.wage_indices(year, p["wage_growth_base_year"])
            levels = np.array((p["wage_seat_yuan"], p["wage_town_yuan"],
                               p["wage_village_nonfarm_yuan"]))
            fallback = np.array((p["informal_income_yuan"], p["informal_income_yuan"],
                                 p["farm_income_yuan"]))
            assert np.array_equal(m.wage, np.append(levels.take(m.place_type) * local,
                                                    p["wage_outside_yuan"] * outside))
            assert np.array_equal(m.fallback, np.append(
                fallback.take(m.place_type) * local, p["outside_fallback_income_yuan"] * outside))
            q, f = (demography.rate_in_year(*demography.rate_schedules(lin_data.vital_rates, r),
                                            year) for r in ("mortality", "fertility"))
            assert np.array_equal(m.mortality, np.minimum(q * u.mortality_multiplier, 1.0))
            assert np.array_equal(m.fertility, f * u.fertility_multiplier)
    assert not np.array_equal(models[0].mortality, models[1].mortality)
    cache = lin_data.memo(("vital_in_force",), dict)
    for year in range(1990, 2060):  # 70 keys
        models[1].year = year
        models[1].exogenous_inputs()
    assert 0 < len(cache) <= 64
