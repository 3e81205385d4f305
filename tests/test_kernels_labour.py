"""The compiled labour-market loop gives exactly what the former NumPy rule gave.

The NumPy rule (the working-age residents selected by masks, their place through the place
lookup table, ``LabourMarket.assign`` as it was) is kept here as the reference: same seed,
same draws in the same order, same sector codes and generator state.
"""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.economy.labour import FARMING, UNEMPLOYED, LabourMarket
from urban_sim.population.state import LOC_OUTSIDE, SECTORS, Table

WORKING_AGE = (16, 59)


def _ref_assign(labour, place, trained, boost, rng):
    p = labour.chance.take(place)
    np.multiply(p, 1.0 + boost, out=p, where=trained)
    np.minimum(p, 1.0, out=p)
    u = rng.random(len(place))
    employed = u < p
    out = np.where(labour.place_type == 2, FARMING, UNEMPLOYED).astype(np.int8).take(place)
    cum = np.cumsum(labour.jobs, axis=1)
    tot = np.maximum(cum[:, -1], 1e-12)
    e = np.flatnonzero(employed)
    pe = place[e]
    v = u[e] / np.maximum(p[e], 1e-12) * tot.take(pe)
    sector = np.zeros(len(e), dtype=np.int8)
    for j in range(len(SECTORS) - 1):
        sector += v >= cum[:, j].take(pe)
    out[e] = sector
    return out


def _ref_labour(P, township, lut, K, labour, boost, rng):
    P.sector[:] = -1
    idx = np.flatnonzero(P.alive & (P.loc != LOC_OUTSIDE) & (P.age >= WORKING_AGE[0])
                         & (P.age <= WORKING_AGE[1]))
    key = np.multiply(P.loc.take(idx), K, dtype=np.intp)
    key += township.take(P.hh.take(idx))
    P.sector[idx] = _ref_assign(labour, lut.take(key), P.trained.take(idx), boost, rng)


def _case(n, n_hh, K, seed, chance_scale=1.0, empty_jobs=False):
    rng = np.random.default_rng(seed)
    persons = Table({
        "age": rng.integers(0, 90, n).astype(np.int16), "alive": rng.random(n) < 0.9,
        "loc": rng.integers(0, 4, n).astype(np.int8), "hh": rng.integers(0, n_hh, n).astype(np.int32),
        "trained": rng.random(n) < 0.3, "sector": rng.integers(-1, 8, n).astype(np.int8)})
    township = rng.integers(0, K, n_hh).astype(np.int16)
    t = np.arange(K)
    lut = np.concatenate([K + t, t, np.zeros(K, np.int64), np.full(K, 2 * K), [2 * K + 1]])
    place_type = np.r_[0, np.ones(K - 1, int), np.full(K, 2)]
    labour = LabourMarket(rng.random(2 * K) * 1000, rng.random(2 * K) * 2000, place_type,
                          {"nonfarm_jobs_share_seat": 0.8, "nonfarm_jobs_share_town": 0.5,
                           "nonfarm_jobs_share_village": 0.2, "services_jobs_per_resident": 0.1,
                           "background_construction_jobs_per_1000": 5.0})
    labour.chance = np.minimum(rng.random(2 * K) * chance_scale, 1.0)
    labour.chance[0] = 1.0  # trained workers at the seat hit the cap
    if empty_jobs:
        labour.jobs[:] = 0.0
    return persons, township, lut, labour


@pytest.mark.parametrize(("n", "n_hh", "K", "seed", "kw"), [
    (0, 1, 3, 0, {}), (1, 1, 2, 1, {}), (500, 80, 4, 2, {}), (20_000, 4000, 23, 3, {}),
    (3000, 500, 5, 4, {"chance_scale": 0.0}),    # nobody employed
    (3000, 500, 5, 5, {"chance_scale": 5.0}),    # nearly everybody employed
    (3000, 500, 5, 6, {"empty_jobs": True}),     # places without wage jobs
])
def test_assign_equals_the_numpy_rule(n, n_hh, K, seed, kw):
    boost = 0.35
    results = []
    for ours in (False, True):
        P, township, lut, labour = _case(n, n_hh, K, seed, **kw)
        rng = np.random.default_rng(seed + 50)
        if ours:
            labour.assign(P, township, lut, K, WORKING_AGE, boost, rng)
        else:
            _ref_labour(P, township, lut, K, labour, boost, rng)
        results.append((P.sector.copy(), rng.random(3)))
    (ref, next_ref), (got, next_got) = results
    assert got.dtype == ref.dtype and np.array_equal(got, ref)
    assert np.array_equal(next_got, next_ref)
    if n >= 500 and not kw:
        assert {-1, FARMING, UNEMPLOYED} <= set(got.tolist()) and (got >= 0).sum() > (got > 5).sum()


def test_assign_sees_a_one_ulp_change_of_the_sector_draw():
    """Cumulative jobs set exactly on the reference's ``v = u / p · total`` of one employed
    worker per place: a kernel that computed ``v`` in another order (``u · total / p``, one ulp
    off) would put some of them in another sector."""
    n, n_hh, K, seed, boost = 4000, 700, 4, 11, 0.35
    P, township, lut, labour = _case(n, n_hh, K, seed)
    labour.chance = np.full(2 * K, 0.37)  # not a power of two: u / p is rounded
    idx = np.flatnonzero(P.alive & (P.loc != LOC_OUTSIDE) & (P.age >= WORKING_AGE[0])
                         & (P.age <= WORKING_AGE[1]))
    key = np.multiply(P.loc.take(idx), K, dtype=np.intp)
    key += township.take(P.hh.take(idx))
    place = lut.take(key)
    p = labour.chance.take(place)
    np.multiply(p, 1.0 + boost, out=p, where=P.trained.take(idx))
    np.minimum(p, 1.0, out=p)
    u = np.random.default_rng(seed + 50).random(len(idx))  # the draws both rules will make
    tot = np.maximum(np.cumsum(labour.jobs, axis=1)[:, -1], 1e-12)
    live = 0
    for pl in np.unique(place):
        T = tot[pl]
        hit = np.flatnonzero((place == pl) & (u < p))
        v_all = u[hit] / np.maximum(p[hit], 1e-12) * T
        other = u[hit] * T / np.maximum(p[hit], 1e-12)
        below = hit[other < v_all]  # workers whose v the other order would round down
        if not len(below):
            continue
        w = below[0]
        v = u[w] / max(p[w], 1e-12) * T
        rest = max(0.75 * T - v, 0.0)
        cum4 = v + rest  # in [T/2, T]: T − cum4 is exact, so the total stays T
        labour.jobs[pl] = [v, 0.0, 0.0, 0.0, rest, T - cum4]
        assert np.cumsum(labour.jobs[pl])[-1] == T and np.cumsum(labour.jobs[pl])[0] == v
        live += u[w] * T / max(p[w], 1e-12) < v  # the other order would fall below the boundary
    assert live >= 1
    results = []
    for ours in (False, True):
        Q = Table(P.columns())
        rng = np.random.default_rng(seed + 50)
        if ours:
            labour.assign(Q, township, lut, K, WORKING_AGE, boost, rng)
        else:
            _ref_labour(Q, township, lut, K, labour, boost, rng)
        results.append(Q.sector.copy())
    assert np.array_equal(results[0], results[1])


def _ref_update(labour, residents, direct_new, construction, *, trends, params, tourism_growth):
    """``LabourMarket.update`` as NumPy passes (the rule before the compiled pass)."""
    from urban_sim.economy.labour import S_CONS, S_SERV, S_TOUR
    j = labour.jobs
    j *= 1.0 + trends
    j[:, S_TOUR] *= 1.0 + tourism_growth
    j += direct_new
    target = params["services_jobs_per_resident"] * residents
    j[:, S_SERV] += params["services_adjustment_rate"] * (target - j[:, S_SERV])
    j[:, S_SERV] += params["induced_jobs_multiplier"] * direct_new.sum(axis=1)
    j[:, S_CONS] = params["background_construction_jobs_per_1000"] / 1000 * residents + construction
    np.maximum(j, 0.0, out=j)


@pytest.mark.parametrize("nan", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_update_equals_the_numpy_rule(seed, nan):
    """Random stocks, trends (some negative: jobs clipped at 0), programme jobs; a NaN stays."""
    import copy
    rng = np.random.default_rng(seed)
    n = 2 * int(rng.integers(1, 30))
    labour = LabourMarket(rng.random(n) * 1000, rng.random(n) * 2000, np.r_[0, np.ones(n // 2 - 1, int),
                          np.full(n // 2, 2)], {"nonfarm_jobs_share_seat": 0.8,
                          "nonfarm_jobs_share_town": 0.5, "nonfarm_jobs_share_village": 0.2,
                          "services_jobs_per_resident": 0.1,
                          "background_construction_jobs_per_1000": 5.0})
    labour.jobs[0, 1] = np.nan if nan else labour.jobs[0, 1]
    params = {"services_jobs_per_resident": 0.13, "services_adjustment_rate": 0.3,
              "induced_jobs_multiplier": 0.7, "background_construction_jobs_per_1000": 6.5}
    ref = copy.deepcopy(labour)
    for _ in range(3):
        args = (rng.random(n) * 2000, rng.random((n, len(SECTORS))) * 10 * (rng.random((n, 1)) < 0.3),
                rng.random(n) * 50)
        kw = {"trends": rng.normal(0, 0.5, len(SECTORS)), "params": params,
              "tourism_growth": rng.normal(0, 0.5, n)}
        seekers = rng.random(n) * 3000 * (rng.random(n) < 0.8)  # some places without seekers
        before = ref.jobs.sum(axis=1).sum()
        growth = labour.update(*args, **kw, seekers=seekers)
        _ref_update(ref, *args, **kw)
        assert labour.jobs.tobytes() == ref.jobs.tobytes()  # bit for bit (NaN, -0.0)
        # the chance and the growth as the NumPy rule gave them (county.labour_market before)
        ref_chance = np.minimum(1.0, ref.jobs.sum(axis=1) / np.maximum(seekers, 1e-9))
        assert labour.chance.tobytes() == ref_chance.tobytes()
        expected = ref.jobs.sum(axis=1).sum() / max(before, 1.0) - 1.0
        assert np.isnan(growth) if nan else growth == expected
        assert (ref_chance == 1.0).any() and (ref_chance < 1.0).any()
    assert np.isnan(labour.jobs[0, 1]) == nan and (labour.jobs == 0).any()
    kept = labour.chance.copy()
    labour.update(*args, **kw)  # without seekers: the chance is kept
    assert labour.chance.tobytes() == kept.tobytes()



@pytest.mark.parametrize("nan", [True, False])
@pytest.mark.parametrize(("n", "n_hh", "K", "seed"), [(0, 1, 3, 0), (500, 80, 4, 2), (6000, 900, 23, 3)])
def test_year_equals_update_and_assign(n, n_hh, K, seed, nan):
    """``LabourMarket.year`` (one compiled call for the job update, the cumulative jobs and the
    workers' list, then the sectors) against ``update`` with ``np.where(qikou, tour, 0.0)`` and
    ``assign``: the same jobs, chance, growth, sectors and generator state, bit for bit, over
    three years (negative trends clip jobs at 0; a NaN job stock stays NaN)."""
    import copy
    P, township, lut, ref = _case(n, n_hh, K, seed)
    ref.jobs[1, 4] = np.nan if nan else ref.jobs[1, 4]
    ref.jobs[2, 0] = -0.0
    ours, Q = copy.deepcopy(ref), Table(P.columns())
    params = {"services_jobs_per_resident": 0.13, "services_adjustment_rate": 0.3,
              "induced_jobs_multiplier": 0.7, "background_construction_jobs_per_1000": 6.5}
    data = np.random.default_rng(seed + 7)
    rng_ref, rng_ours = np.random.default_rng(seed + 50), np.random.default_rng(seed + 50)
    qikou = data.random(2 * K) < 0.3
    for _ in range(3):
        args = (data.random(2 * K) * 2000, data.random((2 * K, len(SECTORS))) * 10
                * (data.random((2 * K, 1)) < 0.3), data.random(2 * K) * 50)
        trends = data.normal(0, 0.5, len(SECTORS))
        tour = float(data.normal(0, 0.5))
        seekers = data.random(2 * K) * 3000 * (data.random(2 * K) < 0.8)
        growth_ref = ref.update(*args, trends=trends, params=params,
                                tourism_growth=np.where(qikou, tour, 0.0), seekers=seekers)
        ref.assign(P, township, lut, K, WORKING_AGE, 0.35, rng_ref)
        growth = ours.year(*args, trends=trends, params=params, qikou=qikou, tour=tour,
                           seekers=seekers, persons=Q, township=township, place_lut=lut, K=K,
                           working_age=WORKING_AGE, boost=0.35, rng=rng_ours)
        assert ours.jobs.tobytes() == ref.jobs.tobytes()
        assert ours.chance.tobytes() == ref.chance.tobytes()
        assert np.array_equal(np.float64(growth), np.float64(growth_ref), equal_nan=True)
        assert Q.sector.tobytes() == P.sector.tobytes()
        assert rng_ours.bit_generator.state == rng_ref.bit_generator.state
    assert np.isnan(ours.jobs[1, 4]) == nan
    if n:
        assert (P.sector >= 0).any() and (P.sector == -1).any()
