"""Compiled passes of the land and institutions phase (phase 9): who is selected, and the
writes of the draws.

The NumPy rule built each selection by several full-length masks and ``flatnonzero``; here
one pass over the person rows gives the households with a working-age member farming, the
trained and the untrained candidates for training, and one pass over the households gives
the candidates for land renting, homestead withdrawal and hukou conversion (and advances the
years at the base). The tests on columns run in loops without dependence between rows, which
LLVM vectorises, and the rows are then listed branch-free (a row is written and kept only if
it qualifies): the same tests inside the listing loop were slower than NumPy's masks. The
draws stay in NumPy, over the same selections in the same order (these selections are small,
and a Generator passed to a compiled function costs ~20 µs per call); one compiled call then
makes their writes and lists the candidates for training (a dozen small NumPy calls before).
Results are
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
    out = np.empty(untrained.shape[0] + n, dtype=np.intp)
    i = j = 0
    for k in range(out.shape[0]):  # merge of two ascending lists
        if j >= n or (i < untrained.shape[0] and untrained[i] < lapsed[j]):
            out[k] = untrained[i]
            i += 1
        else:
            out[k] = lapsed[j]
            j += 1
    return out


_person_codes = _jit(_person_codes)  # called from the compiled loop below
_household_codes = _jit(_household_codes)
_selections = _jit(_selections_loop)
_apply = _jit(_apply_loop)


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


def apply(persons, households, rent, u_rent, rent_rate, chosen, hukou, u_hukou, hukou_rate,
          was_trained, u_lapse, expiry, untrained, outside, training_age, with_candidates):
    """The writes of the phase's draws and the candidates for training, in one call.

    ``land_rented`` set where ``u_rent < rent_rate`` (rows ``rent``), homestead withdrawn and
    land tie cut for the households ``chosen``, ``hukou_urban`` set where
    ``u_hukou < hukou_rate`` (rows ``hukou``), ``trained`` cleared where ``u_lapse < expiry``
    (rows ``was_trained``: training lapses).

    Parameters
    ----------
    persons, households : urban_sim.population.state.Table
        Written in place (the columns named above).
    rent, chosen, hukou : numpy.ndarray of intp
        Household rows: candidates for renting out land, households withdrawing their
        homestead, candidates for an urban hukou (:func:`selections`; ``chosen`` drawn).
    u_rent, u_hukou, u_lapse : numpy.ndarray of float
        Uniforms of ``rent``, ``hukou`` and ``was_trained``, one a row, drawn before the call.
    rent_rate, hukou_rate, expiry : float
        Probabilities per year of renting out, of a hukou conversion, of a training lapse.
    was_trained, untrained : numpy.ndarray of intp
        Ascending person rows, trained and untrained before this year's lapses (:func:`selections`).
    outside : int
        Location code outside the county.
    training_age : tuple of int
        Ages of training (inclusive), years.
    with_candidates : bool
        Whether to list the candidates for training (only if places are drawn this year).

    Returns
    -------
    numpy.ndarray of intp
        When ``with_candidates``: ascending union of ``untrained`` and the lapsed persons
        alive, not at ``outside`` and aged within ``training_age`` (inclusive); else empty.
    """
    P, H = persons, households
    return _apply(rent, u_rent, rent_rate, H.land_rented, chosen, H.homestead_withdrawn,
                  H.land_tie, hukou, u_hukou, hukou_rate, H.hukou_urban, was_trained, u_lapse,
                  expiry, P.trained, untrained, P.alive, P.loc, P.age, outside, training_age[0],
                  training_age[1], with_candidates)
