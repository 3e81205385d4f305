"""Compiled passes of the capacity allocation (numba).

The capacity allocation of :func:`urban_sim.population.migration.allocate_and_move` as a few
compiled passes: who applies with which members and needs (:func:`applicants_of`), the
lottery's rounds (:func:`lottery`), the refusals and the moving members (:func:`refused`),
the moves (:func:`moves`) and the new bases (:func:`settle`). Kept bit-identical with the NumPy
rules they replaced in the same way as :mod:`urban_sim.population.choice_kernels` (the same
integer and floating-point operations in the same order, the random numbers drawn outside in
the same order; ``tests/test_kernels_choice.py`` keeps the NumPy rules as the reference and
compares). A compiled function here calls only compiled functions of this module (numba's disk
cache would not see edits to another module's).
"""

from __future__ import annotations

import numpy as np

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
    """Pupils and mothers by applicant, from the members at the base of the applicants
    (compiled: called by the allocation's kernels).

    Parameters
    ----------
    k_a : numpy.ndarray of int, shape (m,)
        Applicant (position among the applicants) of each member.
    age_a : numpy.ndarray of int, shape (m,)
        Age of each member, years.
    female_a : numpy.ndarray of bool, shape (m,)
    n_app : int
        Number of applicants.
    pupil_lo, pupil_hi : int
        First and last pupil age, years (inclusive).

    Returns
    -------
    pupils : numpy.ndarray of int64, shape (n_app,)
        Members aged ``pupil_lo`` to ``pupil_hi``.
    mother : numpy.ndarray of bool, shape (n_app,)
        A woman aged 20–55 is a member.
    """
    pupils = np.zeros(n_app, dtype=np.int64)
    mother = np.zeros(n_app, dtype=np.bool_)
    for s in range(k_a.shape[0]):
        k, a = k_a[s], age_a[s]
        pupils[k] += (a >= pupil_lo) & (a <= pupil_hi)
        mother[k] |= female_a[s] & (a >= 20) & (a <= 55)
    return pupils, mother


def _moving_members_loop(k_a, kind, age_a, ia, old_age):
    """Members of the moving households and the old among them (compiled: called by the
    allocation's kernels).

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
    :func:`_moving_members_loop` with the same ``old_age``, in their order); kind 2 moves
    pupils (``pupil_age``) and the household's first woman aged 20–55 in row order; kind 3
    moves the ``labour_age`` members.

    Parameters
    ----------
    sub : numpy.ndarray of intp
        Members of the moving households (:func:`_moving_members_loop`).
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
_moves_jit = _moves_loop = _jit(_moves_loop)  # also called from the compiled loops below



# --------------------------------------------------------------------------- the allocation's steps
ALT_TOWN, ALT_SEAT, ALT_OUTSIDE = 1, 2, 3
"""Alternatives of the location choice (``choice.ALT_*``; checked by the tests)."""


def _applicants_of_loop(at, hh, age, female, hhs, dest, trigger, u2, n_work, township, to_loc,
                        p_mother, p_labour, pupil_lo, pupil_hi):
    n_app = hhs.shape[0]
    applicant = np.zeros(township.shape[0], dtype=np.bool_)
    slot = np.empty(township.shape[0], dtype=np.intp)  # read at the applicants' rows only
    for k in range(n_app):
        applicant[hhs[k]] = True
        slot[hhs[k]] = k
    pa, ia, n_at = _members_at_base_of_jit(at, hh, applicant)
    m = pa.shape[0]
    k_a = np.empty(m, dtype=np.intp)
    age_a = np.empty(m, dtype=age.dtype)
    female_a = np.empty(m, dtype=np.bool_)
    for s in range(m):
        i = pa[s]
        k_a[s] = slot[hh[i]]
        age_a[s] = age[i]
        female_a[s] = female[i]
    pupils, mother_ok = _applicant_members_jit(k_a, age_a, female_a, n_app, pupil_lo, pupil_hi)
    kind = np.empty(n_app, dtype=np.int8)
    to = np.empty(n_app, dtype=np.int8)
    place = np.empty(n_app, dtype=np.int64)
    urban = np.empty(n_app, dtype=np.intp)
    n_urban = 0
    for k in range(n_app):
        d = dest[k]
        to_urban = (d == ALT_TOWN) | (d == ALT_SEAT)
        mother_pupil = (to_urban & trigger[k] & mother_ok[k] & (pupils[k] > 0)
                        & (u2[k] < p_mother))
        labour_only = (d == ALT_OUTSIDE) & (n_work[k] > 0) & (u2[k] < p_labour)
        kind[k] = 2 if mother_pupil else (3 if labour_only else 1)
        to[k] = to_loc[d]
        place[k] = 0 if d == ALT_SEAT else np.int64(township[hhs[k]])
        urban[n_urban] = k
        n_urban += to_urban
    need = np.empty((n_urban, 2))
    for j in range(n_urban):
        need[j, 0] = 1.0
        need[j, 1] = np.float64(pupils[urban[j]])
    return pa, ia, n_at, k_a, age_a, female_a, kind, to, place, urban[:n_urban].copy(), need


_applicants_of_jit = _jit(_applicants_of_loop)


def applicants_of(at, hh, age, female, hhs, dest, trigger, u2, n_work, township, p_mother,
                  p_labour, pupil_age):
    """The applicants' members at the base, kinds of move, places and needs, in one call.

    Parameters
    ----------
    at : numpy.ndarray of bool, shape (n_persons,)
        Living and at the household's base.
    hh, age, female : numpy.ndarray, shape (n_persons,)
        Person columns.
    hhs, dest, trigger, u2, n_work : numpy.ndarray, shape (n_app,)
        The applicants (``migration.Applicants``): household, chosen alternative, school
        trigger, second uniform, members of working age at the base.
    township : numpy.ndarray of int, shape (n_households,)
    p_mother, p_labour : float
        ``p_mother_with_pupil`` and ``p_labour_only_outside``.
    pupil_age : tuple of int
        First and last pupil age, years (inclusive).

    Returns
    -------
    tuple
        ``pa, ia, n_at`` as :func:`members_at_base_of` for the applicants' households; by
        member of ``pa``: its applicant ``k_a`` (intp), age and sex; by applicant: the kind of
        move if accepted (int8: 1 whole household, 2 mother and pupils, 3 labour only), the
        location code moved to (int8), the place of the lottery (int64: 0 the county seat, else
        the township); the applicants moving into a town centre or the county seat (intp,
        ascending) and their needs (float, shape (n_urban, 2): one dwelling, the pupils' school
        seats), as the NumPy rule computed them.
    """
    return _applicants_of_jit(at, hh, age, female, hhs, dest, trigger, u2, n_work, township,
                              _TO_LOC, p_mother, p_labour, pupil_age[0], pupil_age[1])


_TO_LOC = np.array([VILLAGE, TOWN, SEAT, OUTSIDE], dtype=np.int8)
"""Location code by alternative."""


def _refused_loop(ok, urban, kind, place, K, weight, k_a, age_a, ia, old_age):
    count = np.zeros(K, dtype=np.int64)
    for j in range(urban.shape[0]):
        if not ok[j]:
            k = urban[j]
            kind[k] = 0
            count[place[k]] += 1
    refused_by_place = np.empty(K)
    for t in range(K):
        refused_by_place[t] = count[t] * weight
    sub, old = _moving_members_jit(k_a, kind, age_a, ia, old_age)
    return refused_by_place, sub, old


_refused_jit = _refused_loop = _jit(_refused_loop)  # also called from a compiled loop below


def refused(ok, urban, kind, place, K, weight, k_a, age_a, ia, old_age):
    """The lottery's refusals, then the members of the moving households.

    Parameters
    ----------
    ok : numpy.ndarray of bool, shape (n_urban,)
        Lottery result of each applicant of ``urban``.
    urban : numpy.ndarray of intp, shape (n_urban,)
        Applicants in the lottery.
    kind : numpy.ndarray of int8, shape (n_app,)
        Kind of move by applicant; set to 0 for the refused (in place).
    place : numpy.ndarray of int64, shape (n_app,)
        Place of the lottery by applicant.
    K : int
        Number of places.
    weight : float
        Persons per agent.
    k_a, age_a, ia, old_age
        As :func:`_moving_members_loop`.

    Returns
    -------
    refused_by_place : numpy.ndarray of float, shape (K,)
        Refused applicants by place times ``weight``.
    sub, old : numpy.ndarray of intp
        As :func:`_moving_members_loop`.
    """
    return _refused_jit(ok, urban, kind, place, K, weight, k_a, age_a, ia, old_age)


def _settle_loop(hhs, kind, to, gone, stay, base, years):
    n_app = hhs.shape[0]
    check = np.empty(n_app, dtype=hhs.dtype)
    m = 0
    for k in range(n_app):
        f = kind[k]
        h = hhs[k]
        if f == 1:
            base[h] = to[k]
            years[h] = 0
        check[m] = h
        m += (gone[k] == 0) if f == 1 else ((f > 1) & (gone[k] > 0) & (stay[k] == 0))
    return check[:m].copy()


_settle_jit = _settle_loop = _jit(_settle_loop)  # also called from the compiled loops below


def settle(hhs: np.ndarray, kind: np.ndarray, to: np.ndarray, gone: np.ndarray, stay: np.ndarray,
           base: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The new bases of the whole moving households, and the households whose base the moves
    can have left without a member.

    Parameters
    ----------
    hhs, kind, to : numpy.ndarray, shape (n_app,)
        Household, kind of move and location code moved to, by applicant.
    gone, stay : numpy.ndarray of int64, shape (n_app,)
        Members moved and members staying at the base (:func:`moves`).
    base, years : numpy.ndarray, shape (n_households,)
        Base location code and years at the base; written for the whole moving households.

    Returns
    -------
    numpy.ndarray
        Ascending in applicant order: whole moving households none of whose members at the
        base moved, and partly moving households whose members at the base all left.
    """
    return _settle_jit(hhs, kind, to, gone, stay, base, years)


# --------------------------------------------------------------------------- the steps fused
def _moves_settle_loop(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc, ages, hhs,
                       base, years):
    counts, gone, stay = _moves_loop(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc,
                                     ages[0], ages[1], ages[2], ages[3], ages[4])
    return counts, _settle_loop(hhs, kind, to, gone, stay, base, years)


def _refused_moves_settle_loop(ok, urban, kind, place, K, weight, k_a, age_a, ia, u_at, p_stay,
                               to, female_a, rows, loc, ages, hhs, base, years):
    refused_by_place, sub, old = _refused_loop(ok, urban, kind, place, K, weight, k_a, age_a, ia,
                                               ages[4])
    stay_elder = np.empty(old.shape[0], dtype=np.bool_)
    for o in range(old.shape[0]):  # u_at[old] < p_stay
        stay_elder[o] = u_at[old[o]] < p_stay
    counts, check = _moves_settle_loop(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc,
                                       ages, hhs, base, years)
    return refused_by_place, counts, check


_moves_settle_loop = _jit(_moves_settle_loop)  # also called from the compiled loop below
_refused_moves_settle_jit = _jit(_refused_moves_settle_loop)


def moves_and_settle(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc, ages, hhs, base,
                     years):
    """:func:`moves` (without its check of ``stay_elder``: one value per member listed old by
    :func:`refused`), then :func:`settle`, in one call.

    Parameters
    ----------
    ages : tuple of int
        First and last pupil age, first and last labour-migrant age, old age (years).
    Others
        As :func:`moves` and :func:`settle`.

    Returns
    -------
    counts : numpy.ndarray of int64, shape (4,)
        As :func:`moves`.
    check : numpy.ndarray
        As :func:`settle`.
    """
    return _moves_settle_loop(sub, k_a, kind, to, age_a, female_a, rows, stay_elder, loc, ages,
                              hhs, base, years)


def refused_moves_settle(ok, urban, kind, place, K, weight, k_a, age_a, ia, u_at, p_stay, to,
                         female_a, rows, loc, ages, hhs, base, years):
    """:func:`refused`, the elderly-stay draws ``u_at[old] < p_stay`` and
    :func:`moves_and_settle`, in one call.

    Parameters
    ----------
    u_at : numpy.ndarray of float, shape (n_at,)
        One uniform per person at a base (``rng.random(n_at)``); the old members of the moving
        households (``old`` of :func:`refused`) read theirs.
    p_stay : float
        ``urban_share_stay_elderly``.
    Others
        As :func:`refused` and :func:`moves_and_settle`.

    Returns
    -------
    refused_by_place : numpy.ndarray of float, shape (K,)
    counts : numpy.ndarray of int64, shape (4,)
    check : numpy.ndarray
        As :func:`refused`, :func:`moves` and :func:`settle`.
    """
    return _refused_moves_settle_jit(ok, urban, kind, place, K, weight, k_a, age_a, ia, u_at, p_stay,
                                     to, female_a, rows, loc, ages, hhs, base, years)
