"""Compiled passes of the capacity allocation and return migration (numba).

The rules of :mod:`urban_sim.population.migration` as compiled loops, kept bit-identical with
the NumPy rules they replaced in the same way as :mod:`urban_sim.population.choice_kernels`
(the same integer and floating-point operations in the same order, NumPy's ``exp``, the random
numbers drawn in the same order; ``tests/test_kernels_choice.py`` keeps the NumPy rules as the
reference and compares). A compiled function here calls only compiled functions of this module
(numba's disk cache would not see edits to another module's).
"""

from __future__ import annotations

import numpy as np

from urban_sim.population import vital_kernels as vk
from urban_sim.population.choice_kernels import OUTSIDE, SEAT, TOWN, VILLAGE, _jit


# --------------------------------------------------------------------------- location choice → allocation
def _members_at_base_of_loop(at, hh, chosen):
    n = at.shape[0]
    rows = np.empty(n, dtype=np.intp)
    ranks = np.empty(n, dtype=np.intp)
    m = r = 0
    for i in range(n):
        a = at[i]
        if a & chosen[hh[i]]:  # rare: a branch is cheap
            rows[m] = i
            ranks[m] = r
            m += 1
        r += a
    return rows[:m].copy(), ranks[:m].copy(), r


def members_at_base_of(at: np.ndarray, hh: np.ndarray, chosen: np.ndarray):
    """Persons at their household's base whose household is ``chosen``, in one pass.

    Parameters
    ----------
    at : numpy.ndarray of bool, shape (n_persons,)
        Living and at the household's base.
    hh : numpy.ndarray of int, shape (n_persons,)
        Household of each person.
    chosen : numpy.ndarray of bool, shape (n_households,)

    Returns
    -------
    rows : numpy.ndarray of intp
        Their rows, ascending.
    ranks : numpy.ndarray of intp
        Their positions among all the persons at a base (in ``flatnonzero(at)``).
    n_at : int
        Number of persons at a base.
    """
    return _members_at_base_of_jit(at, hh, chosen)


_members_at_base_of_jit = _jit(_members_at_base_of_loop)


# --------------------------------------------------------------------------- capacity allocation
def _applicant_members_loop(k_a, age_a, female_a, n_app, pupil_lo, pupil_hi):
    pupils = np.zeros(n_app, dtype=np.int64)
    mother = np.zeros(n_app, dtype=np.bool_)
    for s in range(k_a.shape[0]):
        k, a = k_a[s], age_a[s]
        pupils[k] += (a >= pupil_lo) & (a <= pupil_hi)
        mother[k] |= female_a[s] & (a >= 20) & (a <= 55)
    return pupils, mother


def applicant_members(k_a, age_a, female_a, n_app, pupil_age):
    """Pupils and mothers by applicant, from the members at the base of the applicants.

    Parameters
    ----------
    k_a : numpy.ndarray of int, shape (m,)
        Applicant (position among the applicants) of each member.
    age_a : numpy.ndarray of int, shape (m,)
        Age of each member, years.
    female_a : numpy.ndarray of bool, shape (m,)
    n_app : int
        Number of applicants.
    pupil_age : tuple of int
        First and last pupil age, years (inclusive).

    Returns
    -------
    pupils : numpy.ndarray of int64, shape (n_app,)
        Members aged within ``pupil_age``.
    mother : numpy.ndarray of bool, shape (n_app,)
        A woman aged 20–55 is a member.
    """
    return _applicant_members_jit(k_a, age_a, female_a, n_app, pupil_age[0], pupil_age[1])


def _moving_members_loop(k_a, kind, age_a, ia, old_age):
    sub = np.empty(k_a.shape[0], dtype=np.intp)
    old = np.empty(k_a.shape[0], dtype=np.intp)
    m = o = 0
    for s in range(k_a.shape[0]):
        if kind[k_a[s]] > 0:  # rare: a branch is cheap
            sub[m] = s
            m += 1
            if age_a[s] >= old_age:
                old[o] = ia[s]
                o += 1
    return sub[:m].copy(), old[:o].copy()


def moving_members(k_a, kind, age_a, ia, old_age):
    """Members of the moving households and the old among them.

    Parameters
    ----------
    k_a : numpy.ndarray of int, shape (m,)
        Applicant of each member at the base of an applicant.
    kind : numpy.ndarray of int8, shape (n_app,)
        Kind of move by applicant (0 none: refused).
    age_a : numpy.ndarray of int, shape (m,)
        Age of each member, years.
    ia : numpy.ndarray of int, shape (m,)
        Position of each member among all the persons at a base.
    old_age : int
        Age from which a member counts as old, years.

    Returns
    -------
    sub : numpy.ndarray of intp
        Members ``s`` (ascending) with ``kind[k_a[s]] > 0``.
    old : numpy.ndarray of intp
        ``ia[s]`` of those of them aged ``old_age`` or more, in the same order.
    """
    return _moving_members_jit(k_a, kind, age_a, ia, old_age)


def _moves_loop(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc, pupil_lo, pupil_hi,
                work_lo, work_hi, old_age):
    n_app = kind.shape[0]
    first = np.zeros(n_app, dtype=np.bool_)  # the household's first mother candidate is taken
    gone = np.zeros(n_app, dtype=np.int64)
    stay = np.zeros(n_app, dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    o = 0
    for j in range(sub.shape[0]):
        s = sub[j]
        k, a = k_a[s], age_a[s]
        old_stays = False
        if a >= old_age:  # the members moving_members listed as old, in the same order
            old_stays = stay_elder[o]
            o += 1
        f = kind[k]
        if f == 1:
            move = not old_stays
        elif f == 2:
            mother = female_a[s] and (a >= 20) and (a <= 55) and not first[k]
            if mother:
                first[k] = True
            move = ((a >= pupil_lo) and (a <= pupil_hi)) or mother
        else:
            move = (a >= work_lo) and (a <= work_hi)
        if move:
            i = rows[s]
            d, fr = to[k], loc[i]
            counts[0] += (fr == VILLAGE) & (d == SEAT)
            counts[1] += (fr == VILLAGE) & (d == TOWN)
            counts[2] += d == OUTSIDE
            counts[3] += d == SEAT
            loc[i] = d
            gone[k] += 1
        else:
            stay[k] += 1
    return counts, gone, stay


def moves(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc, pupil_age, labour_age,
          old_age):
    """The members of moving households who move, moved (``loc`` written).

    For each member ``s`` of ``sub`` (ascending; its applicant ``k = k_a[s]``, of kind 1 whole
    household, 2 mother and pupils, 3 labour only, moving to location ``to[k]``): kind 1 moves
    unless aged ``old_age`` or more and staying (``stay_elder``, one per member listed old by
    :func:`moving_members` with the same ``old_age``, in their order); kind 2 moves
    pupils (``pupil_age``) and the household's first woman aged 20–55 in row order; kind 3
    moves the ``labour_age`` members.

    Parameters
    ----------
    sub : numpy.ndarray of intp
        Members of the moving households (:func:`moving_members`).
    k_a, age_a, female_a : numpy.ndarray, shape (m,)
        Applicant, age (years) and sex of each member at the base of an applicant.
    kind : numpy.ndarray of int8, shape (n_app,)
        Kind of move by applicant.
    to : numpy.ndarray of int8, shape (n_app,)
        Location code each applicant moves to.
    rows : numpy.ndarray of intp, shape (m,)
        Person row of each member.
    stay_elder : numpy.ndarray of bool
        Whether each old member of a whole moving household stays.
    loc : numpy.ndarray of int8, shape (n_persons,)
        Location codes, written for the members who move.
    pupil_age, labour_age : tuple of int
        First and last age of pupils and of labour migrants, years (inclusive).
    old_age : int
        Age from which a member may stay behind, years.

    Returns
    -------
    counts : numpy.ndarray of int64, shape (4,)
        Moves village → seat, village → town, → outside and → seat.
    gone, stay : numpy.ndarray of int64, shape (n_app,)
        By applicant, members moved and members staying at the base.

    Raises
    ------
    ValueError
        If ``stay_elder`` has not one value per old member.
    """
    if len(stay_elder) != np.count_nonzero(age_a.take(sub) >= old_age):
        raise ValueError("stay_elder must have one value per member aged old_age or more")
    return _moves_jit(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc, pupil_age[0],
                      pupil_age[1], labour_age[0], labour_age[1], old_age)


_applicant_members_jit = _jit(_applicant_members_loop)
_moving_members_jit = _jit(_moving_members_loop)
_moves_jit = _jit(_moves_loop)


def _presence_of_loop(hh, loc, alive, slot, flags):
    for i in range(hh.shape[0]):
        s = slot[hh[i]]
        if s >= 0:  # rare: a branch is cheap
            flags[s, loc[i]] |= alive[i]


def presence_of(hh: np.ndarray, loc: np.ndarray, alive: np.ndarray, households: np.ndarray,
                n_households: int) -> np.ndarray:
    """Whether each of ``households`` has a living member at each location code.

    The rows ``households`` of ``migration.presence``, in one pass over the persons that looks
    at their members only.

    Parameters
    ----------
    hh, loc, alive : numpy.ndarray, shape (n_persons,)
        Household, location code and alive of each person.
    households : numpy.ndarray of int, shape (m,)
        Distinct households.
    n_households : int

    Returns
    -------
    numpy.ndarray of bool, shape (m, 4)
    """
    slot = np.full(n_households, -1, dtype=np.int32)
    slot[households] = np.arange(len(households), dtype=np.int32)
    flags = np.zeros((len(households), 4), dtype=np.bool_)
    _presence_of_jit(hh, loc, alive, slot, flags)
    return flags


_presence_of_jit = _jit(_presence_of_loop)


# --------------------------------------------------------------------------- return migration
def _care_loop(hh, loc, alive, age, care_age, n_households):
    care = np.zeros(n_households, dtype=np.bool_)
    for i in range(hh.shape[0]):
        if (age[i] >= care_age) and alive[i] and (loc[i] != OUTSIDE):  # rare: a branch is cheap
            care[hh[i]] = True
    return care


def _returning_loop(out, hh, age, care, age_from, threshold, u):
    back = np.empty(out.shape[0], dtype=np.intp)
    hh_back = np.empty(out.shape[0], dtype=hh.dtype)
    m = 0
    for k in range(out.shape[0]):
        i = out[k]
        h = hh[i]
        back[m] = i
        hh_back[m] = h
        m += u[k] < threshold[2 * (age[i] >= age_from) + care[h]]
    return back[:m].copy(), hh_back[:m].copy()


def returning(hh, loc, alive, age, n_households, coef, g_age, g_care, g_job, rng):
    """Persons living outside who return this year and their households (return migration).

    The rule (``migration.return_migration``): for every living person outside (ascending
    rows) ``hazard = coef · exp((g_age 1[age ≥ 45] + g_care care_h) + g_job)``, with
    ``care_h`` a living member aged ≥ 75 in the county; the person returns if its uniform of
    ``rng.random(n_outside)`` is below ``min(hazard, 1)``. The exponent takes four values
    (age ≥ 45 or not, care or not): NumPy computes them and their ``exp`` (the same values
    as NumPy's ``exp`` of the full column, elementwise), hazards and thresholds with the same
    operations in the same order; one compiled pass compares the draws.

    Returns
    -------
    tuple of numpy.ndarray
        Returning persons (row indices, ascending) and their households.
    """
    out = np.flatnonzero(alive & (loc == OUTSIDE))  # NumPy's mask and compaction: faster here
    care = _care_jit(hh, loc, alive, age, 75, n_households)
    old, cared = np.array([False, False, True, True]), np.array([False, True, False, True])
    hazard = coef * np.exp(g_age * old + g_care * cared + g_job)
    threshold = np.minimum(hazard, 1.0)  # by 2 · (age ≥ 45) + care
    return _returning_jit(out, hh, age, care, 45, threshold, vk.uniforms(rng, len(out)))


_care_jit = _jit(_care_loop)
_returning_jit = _jit(_returning_loop)


# --------------------------------------------------------------------------- capacity lottery
def _lottery_loop(order, place, need, weight, free, max_rounds):
    # the rounds of choice.capacity_lottery's NumPy rule, with its floating-point operations
    # in its order: per round, the fit test of the open applicants, the cumulative needs of
    # all of them (one running sum across places, each place's offset subtracted), each place's
    # prefix that fits accepted and its units subtracted in order, its first misfit refused
    n, k = need.shape
    p = np.empty(n, dtype=np.int64)
    nd = np.empty((n, k))
    for i in range(n):
        o = order[i]
        p[i] = place[o]
        for c in range(k):
            nd[i, c] = need[o, c] * weight
    ok_sorted = np.zeros(n, dtype=np.bool_)
    open_ = np.ones(n, dtype=np.bool_)
    idx = np.empty(n, dtype=np.intp)
    cum = np.zeros(k)
    off = np.zeros(k)
    for _ in range(max_rounds):
        m = 0
        for i in range(n):
            if open_[i]:
                fit = True
                for c in range(k):
                    fit &= nd[i, c] <= free[p[i], c] + 1e-9
                open_[i] = fit
                idx[m] = i
                m += fit
        if m == 0:
            break
        s = 0
        while s < m:  # the places' groups of open applicants, in order
            pl = p[idx[s]]
            for c in range(k):
                off[c] = 0.0 if s == 0 else cum[c]
            bad = -1
            e = s
            while e < m and p[idx[e]] == pl:
                fits = True
                for c in range(k):
                    x = nd[idx[e], c]
                    cum[c] = x if e == 0 else cum[c] + x
                    fits &= cum[c] - off[c] <= free[pl, c] + 1e-9
                if bad < 0 and not fits:
                    bad = e
                e += 1
            last = e if bad < 0 else bad
            for j in range(s, last):  # accepted, in order: their units taken
                i = idx[j]
                ok_sorted[i] = True
                open_[i] = False
                for c in range(k):
                    free[pl, c] -= nd[i, c]
            if bad >= 0:  # refused for good (free units only shrink)
                open_[idx[bad]] = False
            s = e
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        ok[order[i]] = ok_sorted[i]
    return ok


_lottery_jit = _jit(_lottery_loop)


def lottery(order: np.ndarray, place: np.ndarray, need: np.ndarray, weight: float,
            free: np.ndarray, max_rounds: int) -> np.ndarray:
    """The rounds of :func:`urban_sim.population.choice.capacity_lottery` in one compiled pass.

    Parameters
    ----------
    order : numpy.ndarray of int, shape (n,)
        The applicants in service order, sorted by place (the lottery's ``lexsort``).
    place : numpy.ndarray of int64, shape (n,)
        Place each applicant applies to.
    need : numpy.ndarray of float, shape (n, k)
        Units of each of ``k`` kinds each applicant needs, per agent.
    weight : float
        Persons represented by one agent (``need · weight`` is taken).
    free : numpy.ndarray of float, shape (n_places, k)
        Free units by place; updated in place (the units of the accepted subtracted).
    max_rounds : int
        Rounds of the first-fit pass.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True for applicants who get every unit they need (in the applicants' order).
    """
    return _lottery_jit(order, place, need, weight, free, max_rounds)
