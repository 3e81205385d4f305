"""The compiled demography loops give exactly what the former NumPy rules gave.

The NumPy rules (ageing, deaths, births, household formation as they were before the compiled
loops of ``urban_sim.population.vital_kernels``) are kept here as the reference: same seed,
same draws in the same order, same resulting columns and generator state.
"""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.population import demography
from urban_sim.population.demography import MAX_AGE
from urban_sim.population.state import LOC_OUTSIDE, Table


# the NumPy rule of the leavers' candidates (population/kernels.py before it was compiled)
def _leaver_numpy(hh, alive, age, n_households, lo, hi, gap):
    living = np.flatnonzero(alive)
    a = age.take(living)
    h = hh.take(living).astype(np.intp)
    oldest = np.zeros(n_households, dtype=age.dtype)
    np.maximum.at(oldest, h, a)
    young = np.flatnonzero((a >= lo) & (a <= hi))
    return living[young[oldest.take(h.take(young)) >= a.take(young) + gap]]


_ref_candidates = _leaver_numpy


# ------------------------------------------------------------------ the NumPy reference
def _ref_deaths(persons, q, rng):
    alive = np.flatnonzero(persons.alive)
    age = np.minimum(persons.age.take(alive), MAX_AGE)
    dead = alive[rng.random(len(alive)) < q.take(age)]
    persons.alive[dead] = False
    return dead


def _ref_births(persons, f, rng):
    women = np.flatnonzero(persons.alive & persons.female & (persons.age >= 15) & (persons.age <= 49))
    mothers = women[rng.random(len(women)) < f.take(persons.age.take(women))]
    k = len(mothers)
    return persons.append(
        age=np.zeros(k, np.int16), female=rng.random(k) < 100 / 211, hh=persons.hh[mothers],
        loc=persons.loc[mothers], alive=np.ones(k, bool), mother=mothers.astype(np.int32),
        trained=np.zeros(k, bool), sector=np.full(k, -1, np.int8))


def _ref_form_households(persons, households, rate, rng):
    cand = _ref_candidates(persons.hh, persons.alive, persons.age, len(households), 22, 35, 18)
    leavers = cand[rng.random(len(cand)) < rate]
    if not len(leavers):
        return np.zeros(0, dtype=np.int64)
    old = persons.hh[leavers]
    new = households.append(
        village=households.village[old], township=households.township[old],
        base=persons.loc[leavers], hukou_urban=households.hukou_urban[old],
        land_tie=np.zeros(len(leavers), bool), land_rented=np.zeros(len(leavers), bool),
        homestead_withdrawn=np.zeros(len(leavers), bool),
        years_at_base=np.zeros(len(leavers), np.int16))
    persons.hh[leavers] = new
    leaving = np.zeros(len(persons) + 1, dtype=bool)  # the last cell stands for "no mother"
    leaving[leavers] = True
    kids = np.flatnonzero(persons.alive & (persons.age < 18))
    mother = persons.mother[kids]
    leaving_mother = leaving[mother]
    kids, mother = kids[leaving_mother], mother[leaving_mother]
    persons.hh[kids] = new[np.searchsorted(leavers, mother)]
    return new


def _ref_year(P, H, q, f, rate, rng):
    np.add(P.age, P.alive, out=P.age, casting="unsafe")
    dead = _ref_deaths(P, q, rng)
    born = _ref_births(P, f, rng)
    abroad = np.count_nonzero(P.loc.take(born) == LOC_OUTSIDE)  # as county.demography counted
    new = _ref_form_households(P, H, rate, rng)
    return dead, born, new, abroad


# ------------------------------------------------------------------ random states
def _state(n, n_hh, seed, alive_share=0.85, max_age=115):
    rng = np.random.default_rng(seed)
    hh = np.sort(rng.integers(0, max(n_hh, 1), n)).astype(np.int32)
    age = rng.integers(0, max_age + 1, n).astype(np.int16)
    # mothers: −1 or an earlier row (often one aged 22–35, so that children follow leavers)
    mother = np.where(rng.random(n) < 0.6, rng.integers(-1, max(n, 1), n), -1).astype(np.int32)
    persons = Table({
        "age": age, "female": rng.random(n) < 0.5, "hh": hh,
        "loc": rng.integers(0, 4, n).astype(np.int8), "alive": rng.random(n) < alive_share,
        "mother": mother, "trained": rng.random(n) < 0.1, "sector": np.full(n, -1, np.int8)})
    households = Table({
        "village": rng.integers(0, 50, n_hh).astype(np.int32),
        "township": rng.integers(0, 5, n_hh).astype(np.int16),
        "base": rng.integers(0, 4, n_hh).astype(np.int8),
        "hukou_urban": rng.random(n_hh) < 0.2, "land_tie": rng.random(n_hh) < 0.7,
        "land_rented": rng.random(n_hh) < 0.2, "homestead_withdrawn": rng.random(n_hh) < 0.1,
        "years_at_base": rng.integers(0, 5, n_hh).astype(np.int16)})
    return persons, households


def _rates(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    q = np.minimum(rng.random(MAX_AGE + 1) * 0.2 * scale, 1.0)
    q[-1] = 1.0
    f = np.zeros(MAX_AGE + 1)
    f[15:50] = rng.random(35) * 0.3 * scale
    return q, f


def _run_both(n, n_hh, seed, rate=0.5, rate_scale=1.0, make_rng=np.random.default_rng, **state):
    q, f = _rates(seed, rate_scale)
    out = []
    for fn in (_ref_year, lambda P, H, q, f, r, g: tuple(vars(
            demography.vital_events(P, H, q, f, r, g)).values())):
        P, H = _state(n, n_hh, seed, **state)
        rng = make_rng(seed + 100)
        rng.integers(0, 10, 3, dtype=np.uint32)  # a buffered 32-bit value: kept
        events = fn(P, H, q, f, rate, rng)
        out.append((events, P.columns(), H.columns(), rng.bit_generator.state))
    return out


def _assert_same(ref, ours):
    (ev_r, P_r, H_r, next_r), (ev_o, P_o, H_o, next_o) = ref, ours
    for a, b in zip(ev_r, ev_o, strict=True):
        assert np.array_equal(a, b)
    for cols_r, cols_o in ((P_r, P_o), (H_r, H_o)):
        assert cols_r.keys() == cols_o.keys()
        for k in cols_r:
            assert cols_r[k].dtype == cols_o[k].dtype and np.array_equal(cols_r[k], cols_o[k]), k
    np.testing.assert_equal(next_r, next_o)  # the same draws consumed, the rest of the state kept


@pytest.mark.parametrize(("n", "n_hh", "seed"), [(0, 1, 0), (1, 1, 1), (300, 40, 2),
                                                 (4000, 900, 3), (20_000, 3000, 4)])
def test_vital_events_equal_the_numpy_rules(n, n_hh, seed):
    ref, ours = _run_both(n, n_hh, seed)
    assert len(ref[0][0]) or n < 300  # deaths happen
    assert len(ref[0][1]) or n < 300  # births happen
    assert len(ref[0][2]) or n < 300  # households form
    assert ref[0][3] or n < 300  # some born outside (their mother's location)
    _assert_same(ref, ours)


def test_children_follow_their_leaving_mother():
    ref, ours = _run_both(20_000, 3000, 7, rate=0.9)
    _assert_same(ref, ours)
    P_before, _ = _state(20_000, 3000, 7)
    moved = np.flatnonzero(ours[1]["hh"][:20_000] != P_before.hh)
    young = ours[1]["age"][moved] < 18
    assert young.any() and (~young).any()  # leavers and their children changed household


@pytest.mark.parametrize("state", [
    {"alive_share": 0.0},                      # nobody alive: no draw at all
    {"max_age": 10},                           # nobody eligible for births or leaving
    {"max_age": 140},                          # ages beyond MAX_AGE take the last rate
])
def test_vital_events_edge_cases(state):
    ref, ours = _run_both(2000, 300, 11, **state)
    _assert_same(ref, ours)


def test_no_events_when_rates_are_zero():
    ref, ours = _run_both(3000, 500, 12, rate=0.0, rate_scale=0.0)
    _assert_same(ref, ours)
    assert len(ours[0][2]) == 0 and len(ours[0][1]) == 0


@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.Philox, np.random.MT19937])
@pytest.mark.parametrize("seed", [21, 22])
def test_vital_events_with_any_bit_generator(bits, seed):
    """PCG64's stream is stepped inline in two lanes (odd and even numbers of draws end
    in either lane); another bit generator is drawn through its own interface."""
    ref, ours = _run_both(3000 + seed, 500, seed, make_rng=lambda s: np.random.Generator(bits(s)))
    _assert_same(ref, ours)


@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.Philox])
def test_uniforms_equal_numpys_batch(bits):
    """``vital_kernels.uniforms(rng, n)`` is ``rng.random(n)``: values and state after (odd
    and even n, below and above the size where the inline draws take over)."""
    from urban_sim.population.vital_kernels import uniforms

    a, b = np.random.Generator(bits(5)), np.random.Generator(bits(5))
    for r in (a, b):
        r.integers(0, 10, 3, dtype=np.uint32)  # a buffered 32-bit value: kept
    for n in (0, 1, 4095, 4096, 4097, 10_000, 123_457):
        got = uniforms(a, n)
        assert got.dtype == np.float64 and np.array_equal(got, b.random(n)), n
    np.testing.assert_equal(a.bit_generator.state, b.bit_generator.state)
