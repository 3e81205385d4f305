"""Compiled passes of the land and institutions phase (phase 9): who is selected.

The NumPy rule built each selection by several full-length masks and ``flatnonzero``; here
one pass over the person rows gives the households with a working-age member farming, the
trained and the untrained candidates for training, and one pass over the households gives
the candidates for land renting, homestead withdrawal and hukou conversion (and advances the
years at the base). The tests on columns run in loops without dependence between rows, which
LLVM vectorises, and the rows are then listed branch-free (a row is written and kept only if
it qualifies): the same tests inside the listing loop were slower than NumPy's masks. The
draws over these selections follow in the same call, in the same order, as NumPy makes them
from the generator's PCG64 state (:mod:`urban_sim.policy.draws` explains them and holds the
Python side); with another generator NumPy draws and one compiled call makes the writes.
Results are bit-identical; the former rule is the reference in
``tests/test_kernels_institutions.py``.
"""

from __future__ import annotations

import math

import numpy as np

from urban_sim.population.kernels import _jit
from urban_sim.population.sparse_draws import MULTIPLIER


def _person_codes(alive, loc, age, trained, village, outside, work_lo, work_hi, train_lo,
                  train_hi, code):
    # no dependence between rows: LLVM vectorises this loop
    w_work, w_train = np.uint16(work_hi - work_lo), np.uint16(train_hi - train_lo)
    for i in range(alive.shape[0]):
        a, al, lc, tr = age[i], alive[i], loc[i], trained[i]
        works = al & (lc == village) & (np.uint16(a - work_lo) <= w_work)
        untrained = al & (not tr) & (lc != outside) & (np.uint16(a - train_lo) <= w_train)
        code[i] = works | (tr << 1) | (untrained << 2)


def _household_codes(land_tie, rented, withdrawn, base, hukou_urban, years, farming, village,
                     seat, code):
    # no dependence between rows: LLVM vectorises this loop
    for h in range(land_tie.shape[0]):
        tie, b, y = land_tie[h], base[h], years[h]
        rent = tie & (not rented[h]) & (not farming[h])
        home = tie & (not withdrawn[h]) & (b != village)
        hukou = (b == seat) & (not hukou_urban[h]) & (y >= 2)
        code[h] = rent | (home << 1) | (hukou << 2)
        years[h] = min(y + 1, 1000)


def _selections_loop(alive, loc, age, hh, trained, land_tie, rented, withdrawn, base,
                     hukou_urban, years, village, outside, seat, work_lo, work_hi, train_lo,
                     train_hi):
    # the person selections, then the household selections (which read ``farming``)
    n, n_households = alive.shape[0], land_tie.shape[0]
    code = np.empty(n, dtype=np.uint8)
    _person_codes(alive, loc, age, trained, village, outside, work_lo, work_hi, train_lo,
                  train_hi, code)
    farming = np.zeros(n_households + 1, dtype=np.bool_)  # the last cell is a spare
    was_trained = np.empty(n, dtype=np.intp)
    untrained = np.empty(n, dtype=np.intp)
    nt = nu = 0
    for i in range(n):  # branch-free: a row is written, kept if it qualifies
        c, h = code[i], hh[i]
        farming[h if c & 1 else n_households] = True
        was_trained[nt] = i
        nt += (c >> 1) & 1
        untrained[nu] = i
        nu += c >> 2
    code = np.empty(n_households, dtype=np.uint8)
    _household_codes(land_tie, rented, withdrawn, base, hukou_urban, years, farming, village,
                     seat, code)
    rent = np.empty(n_households, dtype=np.intp)
    home = np.empty(n_households, dtype=np.intp)
    hukou = np.empty(n_households, dtype=np.intp)
    nr = nh = nk = 0
    for h in range(n_households):  # branch-free appends
        c = code[h]
        rent[nr] = h
        nr += c & 1
        home[nh] = h
        nh += (c >> 1) & 1
        hukou[nk] = h
        nk += c >> 2
    return rent[:nr], home[:nh], hukou[:nk], was_trained[:nt], untrained[:nu]


_person_codes = _jit(_person_codes)  # called from the compiled loop below
_household_codes = _jit(_household_codes)
_selections = _jit(_selections_loop)


FLOYD_MAX_POPULATION = 10_000
"""Largest population NumPy always samples by Floyd's algorithm (a larger one is shuffled
when more than a fiftieth is drawn)."""

_A_HI, _A_LO = np.uint64(MULTIPLIER >> 64), np.uint64(MULTIPLIER & ((1 << 64) - 1))
_LOW32 = np.uint64(0xFFFFFFFF)
_B32, _B58, _B1 = np.uint64(32), np.uint64(58), np.uint64(1)
_EMPTY = np.int64(-1)


def _step(lo, hi, c_lo, c_hi):
    # one PCG64 step, s ← a s + c (mod 2^128), and its XSL-RR output of the new state, on
    # the state's words (loops keep them in locals: no load and store of the state a draw)
    x0, x1, y0, y1 = lo & _LOW32, lo >> _B32, _A_LO & _LOW32, _A_LO >> _B32
    p00, p01, p10 = x0 * y0, x0 * y1, x1 * y0
    mid = (p00 >> _B32) + (p01 & _LOW32) + (p10 & _LOW32)
    carry_hi = x1 * y1 + (p01 >> _B32) + (p10 >> _B32) + (mid >> _B32)  # high word of lo·a_lo
    n_hi = carry_hi + lo * _A_HI + hi * _A_LO
    n_lo = lo * _A_LO
    lo = n_lo + c_lo
    hi = n_hi + c_hi + (_B1 if lo < n_lo else np.uint64(0))
    x, rot = hi ^ lo, hi >> _B58
    return lo, hi, (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


def _next64(words):
    # one PCG64 step of the state in ``words`` (state low, high, increment low, high)
    lo, hi, out = _step(words[0], words[1], words[2], words[3])
    words[0], words[1] = lo, hi
    return out


def _next32(words, extra):
    # PCG64's 32-bit draw: the kept high half if there is one, else the low half of a new
    # 64-bit output (its high half kept); extra = (has_uint32, uinteger)
    if extra[0]:
        extra[0] = np.uint32(0)
        return np.uint64(extra[1])
    n = _next64(words)
    extra[0] = np.uint32(1)
    extra[1] = np.uint32(n >> _B32)
    return n & _LOW32


def _bounded(words, extra, rng):
    # an integer in [0, rng], rng < 2^32 - 1: Lemire's method on 32-bit draws
    if rng == 0:
        return np.uint64(0)
    excl = rng + _B1
    m = _next32(words, extra) * excl
    left = m & _LOW32
    if left < excl:
        threshold = (_LOW32 - rng) % excl
        while left < threshold:
            m = _next32(words, extra) * excl
            left = m & _LOW32
    return m >> _B32


def _choice_into(words, extra, a, k, out):
    # out[:k] = rng.choice(a, k, replace=False) (1 <= k <= a.shape[0] < 2^32), by NumPy's two
    # paths: beyond 10,000 with k above a fiftieth, the last k of a partial Fisher-Yates
    # shuffle of 0..n-1 (no shuffle after); else Floyd's algorithm, then a shuffle of the picks
    n = a.shape[0]
    if n > FLOYD_MAX_POPULATION and k > n // 50:
        perm = np.arange(n)
        first = n - k if n - k > 1 else 1
        for i in range(n - 1, first - 1, -1):
            j = np.int64(_bounded(words, extra, np.uint64(i)))
            perm[i], perm[j] = perm[j], perm[i]
        for i in range(k):
            out[i] = a[perm[n - k + i]]
        return
    idx = np.empty(k, dtype=np.int64)
    mask = np.int64(1.2 * k)  # the smallest mask of all ones at or above it
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> s
    table = np.full(mask + 1, _EMPTY, dtype=np.int64)
    for j in range(n - k, n):
        val = np.int64(_bounded(words, extra, np.uint64(j)))
        loc = val & mask
        while table[loc] != _EMPTY and table[loc] != val:
            loc = (loc + 1) & mask
        if table[loc] == _EMPTY:
            table[loc] = val
            idx[j - n + k] = val
        else:
            loc = j & mask
            while table[loc] != _EMPTY:
                loc = (loc + 1) & mask
            table[loc] = j
            idx[j - n + k] = j
    for i in range(k - 1, 0, -1):
        j = np.int64(_bounded(words, extra, np.uint64(i)))
        idx[i], idx[j] = idx[j], idx[i]
    for i in range(k):
        out[i] = a[idx[i]]


def _double(x):
    # rng.random() of a 64-bit output: its top 53 bits (the kept 32-bit half untouched)
    return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def _uniform(words):
    return _double(_next64(words))


def _flag_draws(words, rows, rate, flags):
    # flags[rows[j]] = True where the j-th uniform < rate (the state in locals)
    lo, hi, c_lo, c_hi = words[0], words[1], words[2], words[3]
    for j in range(rows.shape[0]):
        lo, hi, x = _step(lo, hi, c_lo, c_hi)
        if _double(x) < rate:
            flags[rows[j]] = True
    words[0], words[1] = lo, hi


def _n_agents(words, expected):
    # institutions.n_agents: floor(x), plus one with probability x - floor(x) (a draw only
    # when that is > 0)
    whole = math.floor(expected)
    frac = expected - whole
    return whole + (1 if frac > 0 and _uniform(words) < frac else 0)


def _merge(untrained, lapsed, n):
    # the ascending union of untrained and lapsed[:n] (both ascending, disjoint)
    out = np.empty(untrained.shape[0] + n, dtype=np.intp)
    i = j = 0
    for k in range(out.shape[0]):
        if j >= n or (i < untrained.shape[0] and untrained[i] < lapsed[j]):
            out[k] = untrained[i]
            i += 1
        else:
            out[k] = lapsed[j]
            j += 1
    return out


def _apply_loop(rent, u_rent, rent_rate, rented, chosen, withdrawn, land_tie, hukou, u_hukou,
                hukou_rate, hukou_urban, was_trained, u_lapse, expiry, trained, untrained,
                alive, loc, age, outside, train_lo, train_hi, with_candidates):
    # the writes of the draws, as the NumPy rule made them (a[rows[u < rate]] = value; the
    # rows are distinct); then, if asked, the candidates for training: the untrained and those
    # whose training lapsed now that qualify, merged in ascending order
    for j in range(rent.shape[0]):
        if u_rent[j] < rent_rate:
            rented[rent[j]] = True
    for j in range(chosen.shape[0]):
        withdrawn[chosen[j]] = True
        land_tie[chosen[j]] = False
    for j in range(hukou.shape[0]):
        if u_hukou[j] < hukou_rate:
            hukou_urban[hukou[j]] = True
    lapsed = np.empty(was_trained.shape[0], dtype=np.intp)
    n = 0
    for j in range(was_trained.shape[0]):
        if u_lapse[j] < expiry:
            i = was_trained[j]
            trained[i] = False
            a = age[i]
            lapsed[n] = i
            n += alive[i] and loc[i] != outside and a >= train_lo and a <= train_hi
    if not with_candidates:
        return lapsed[:0]
    return _merge(untrained, lapsed, n)


def _land_loop(words, extra, rent, rent_rate, rented, home, home_expected, withdrawn,
               land_tie, hukou, hukou_rate, hukou_urban, was_trained, expiry, trained,
               untrained, train_expected, alive, loc, age, outside, train_lo, train_hi):
    # the draws of the land phase in the order of its NumPy rule (a uniform per rent
    # candidate, the homesteads' count and picks, a uniform per hukou candidate and per
    # trained person, the training places' count and picks), each write after its draws (no
    # write changes a later draw or selection): institution_kernels._apply_loop's writes and
    # candidates for training (the untrained and the lapsed who qualify, merged ascending)
    _flag_draws(words, rent, rent_rate, rented)
    k = _n_agents(words, home_expected)
    if k > 0 and home.shape[0] > 0:
        m = k if k < home.shape[0] else home.shape[0]
        chosen = np.empty(m, dtype=home.dtype)
        _choice_into(words, extra, home, m, chosen)
        for j in range(m):
            withdrawn[chosen[j]] = True
            land_tie[chosen[j]] = False
    _flag_draws(words, hukou, hukou_rate, hukou_urban)
    lapsed = np.empty(was_trained.shape[0], dtype=was_trained.dtype)
    n = 0
    lo, hi, c_lo, c_hi = words[0], words[1], words[2], words[3]
    for j in range(was_trained.shape[0]):
        lo, hi, x = _step(lo, hi, c_lo, c_hi)
        if _double(x) < expiry:
            i = was_trained[j]
            trained[i] = False
            a = age[i]
            lapsed[n] = i
            n += alive[i] and loc[i] != outside and a >= train_lo and a <= train_hi
    words[0], words[1] = lo, hi
    k = _n_agents(words, train_expected)
    if k <= 0 or untrained.shape[0] + n == 0:
        return
    cand = _merge(untrained, lapsed, n)
    m = k if k < cand.shape[0] else cand.shape[0]
    picks = np.empty(m, dtype=cand.dtype)
    _choice_into(words, extra, cand, m, picks)
    for j in range(m):
        trained[picks[j]] = True


# the generator's steps and draws, called by the loops below
_step, _next64, _next32, _bounded = _jit(_step), _jit(_next64), _jit(_next32), _jit(_bounded)
_double, _uniform, _flag_draws = _jit(_double), _jit(_uniform), _jit(_flag_draws)
_n_agents, _choice_into = _jit(_n_agents), _jit(_choice_into)
_merge = _jit(_merge)  # called by both loops
_land, _apply = _jit(_land_loop), _jit(_apply_loop)  # with compiled draws; with NumPy's


def _phase_loop(words, extra, alive, loc, age, hh, trained, land_tie, rented, withdrawn, base,
                hukou_urban, years, village, outside, seat, work_lo, work_hi, train_lo,
                train_hi, rent_rate, home_expected, hukou_rate, expiry, train_expected):
    # the selections, then their draws and writes (the whole phase in one call)
    rent, home, hukou, was_trained, untrained = _selections(
        alive, loc, age, hh, trained, land_tie, rented, withdrawn, base, hukou_urban, years,
        village, outside, seat, work_lo, work_hi, train_lo, train_hi)
    _land(words, extra, rent, rent_rate, rented, home, home_expected, withdrawn, land_tie,
          hukou, hukou_rate, hukou_urban, was_trained, expiry, trained, untrained,
          train_expected, alive, loc, age, outside, train_lo, train_hi)


_phase = _jit(_phase_loop)


def selections(persons, households, village: int, outside: int, seat: int,
               working_age: tuple[int, int], training_age: tuple[int, int]):
    """The selections of the phase, in one pass over the person rows and one over the
    households; ``years_at_base`` ← ``min(years + 1, 1000)`` in the second.

    Parameters
    ----------
    persons, households : urban_sim.population.state.Table

    Returns
    -------
    rent, homestead, hukou : numpy.ndarray of intp
        Ascending rows of the households with a land tie, not renting out, without a living
        member at ``village`` aged within ``working_age`` (farming); of those with a land tie,
        homestead not withdrawn and base not ``village``; and of those based at ``seat`` with a
        rural hukou and at least 2 years there (years before the increment).
    was_trained : numpy.ndarray of intp
        Ascending rows with ``trained`` set (living or not).
    untrained : numpy.ndarray of intp
        Ascending rows of living untrained persons not at ``outside`` aged within
        ``training_age`` (all ranges inclusive).
    """
    P, H = persons, households
    return _selections(P.alive, P.loc, P.age, P.hh, P.trained, H.land_tie, H.land_rented,
                       H.homestead_withdrawn, H.base, H.hukou_urban, H.years_at_base, village,
                       outside, seat, working_age[0], working_age[1], training_age[0],
                       training_age[1])
