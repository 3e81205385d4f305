"""Compiled passes of the land and institutions phase (phase 9): who is selected.

The NumPy rule built each selection by several full-length masks and ``flatnonzero``; here
one pass over the person rows gives the households with a working-age member farming, the
trained and the untrained candidates for training, and one pass over the households gives
the candidates for land renting, homestead withdrawal and hukou conversion (and advances the
years at the base). The tests on columns run in loops without dependence between rows, which
LLVM vectorises, and the rows are then listed branch-free (a row is written and kept only if
it qualifies): the same tests inside the listing loop were slower than NumPy's masks. The
draws stay in NumPy, over the same selections in the same order (these selections are small,
and a Generator passed to a compiled function costs ~20 µs per call). Results are
bit-identical; the former rule is the reference in ``tests/test_kernels_institutions.py``.
"""

from __future__ import annotations

import numpy as np

from urban_sim.population.kernels import _jit


def _person_codes(alive, loc, age, trained, village, outside, work_lo, work_hi, train_lo,
                  train_hi, code):
    # no dependence between rows: LLVM vectorises this loop
    w_work, w_train = np.uint16(work_hi - work_lo), np.uint16(train_hi - train_lo)
    for i in range(alive.shape[0]):
        a, al, lc, tr = age[i], alive[i], loc[i], trained[i]
        works = al & (lc == village) & (np.uint16(a - work_lo) <= w_work)
        untrained = al & (not tr) & (lc != outside) & (np.uint16(a - train_lo) <= w_train)
        code[i] = works | (tr << 1) | (untrained << 2)


def _persons_loop(alive, loc, age, hh, trained, n_households, village, outside, work_lo,
                  work_hi, train_lo, train_hi):
    n = alive.shape[0]
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
    return farming[:n_households], was_trained[:nt], untrained[:nu]


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


def _households_loop(land_tie, rented, withdrawn, base, hukou_urban, years, farming, village,
                     seat):
    n = land_tie.shape[0]
    code = np.empty(n, dtype=np.uint8)
    _household_codes(land_tie, rented, withdrawn, base, hukou_urban, years, farming, village,
                     seat, code)
    rent = np.empty(n, dtype=np.intp)
    home = np.empty(n, dtype=np.intp)
    hukou = np.empty(n, dtype=np.intp)
    nr = nh = nk = 0
    for h in range(n):  # branch-free appends
        c = code[h]
        rent[nr] = h
        nr += c & 1
        home[nh] = h
        nh += (c >> 1) & 1
        hukou[nk] = h
        nk += c >> 2
    return rent[:nr], home[:nh], hukou[:nk]


def _merge_loop(a, b):
    out = np.empty(a.shape[0] + b.shape[0], dtype=np.intp)
    i = j = 0
    for k in range(out.shape[0]):
        if j >= b.shape[0] or (i < a.shape[0] and a[i] < b[j]):
            out[k] = a[i]
            i += 1
        else:
            out[k] = b[j]
            j += 1
    return out


_person_codes = _jit(_person_codes)  # called from the compiled loops below
_household_codes = _jit(_household_codes)
_persons_jit = _jit(_persons_loop)
_households_jit = _jit(_households_loop)
_merge_jit = _jit(_merge_loop)


def person_selections(alive: np.ndarray, loc: np.ndarray, age: np.ndarray, hh: np.ndarray,
                      trained: np.ndarray, n_households: int, village: int, outside: int,
                      working_age: tuple[int, int], training_age: tuple[int, int]):
    """The person selections of the phase, in one pass over the rows.

    Returns
    -------
    farming : numpy.ndarray of bool, shape (n_households,)
        Households with a living member at location ``village`` aged within ``working_age``.
    was_trained : numpy.ndarray of intp
        Ascending rows with ``trained`` set (living or not).
    untrained : numpy.ndarray of intp
        Ascending rows of living untrained persons not at ``outside`` aged within
        ``training_age`` (all ranges inclusive).
    """
    return _persons_jit(alive, loc, age, hh, trained, n_households, village, outside,
                        working_age[0], working_age[1], training_age[0], training_age[1])


def household_selections(land_tie: np.ndarray, land_rented: np.ndarray,
                         homestead_withdrawn: np.ndarray, base: np.ndarray,
                         hukou_urban: np.ndarray, years_at_base: np.ndarray,
                         farming: np.ndarray, village: int, seat: int):
    """The household selections of the phase, in one pass; ``years_at_base`` ←
    ``min(years + 1, 1000)`` in the same pass.

    Returns
    -------
    rent, homestead, hukou : numpy.ndarray of intp
        Ascending rows of the households with a land tie, not renting out, without a member
        farming (``farming``); of those with a land tie, homestead not withdrawn and base not
        ``village``; and of those based at ``seat`` with a rural hukou and at least 2 years
        there (years before the increment).
    """
    return _households_jit(land_tie, land_rented, homestead_withdrawn, base, hukou_urban,
                           years_at_base, farming, village, seat)


def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union of two ascending arrays of distinct rows, ascending (intp)."""
    return _merge_jit(a, b)
