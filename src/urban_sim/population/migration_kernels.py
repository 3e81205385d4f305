"""Compiled passes of return migration, the repair of bases and the capacity lottery (numba).

The rules of :mod:`urban_sim.population.migration` other than the capacity allocation
(:mod:`urban_sim.population.allocation_kernels`) as compiled loops, kept bit-identical with
the NumPy rules they replaced in the same way as :mod:`urban_sim.population.choice_kernels`
(the same integer and floating-point operations in the same order, NumPy's ``exp``, the random
numbers drawn in the same order; ``tests/test_kernels_choice.py`` keeps the NumPy rules as the
reference and compares). A compiled function here calls only compiled functions of this module
(numba's disk cache would not see edits to another module's).
"""

from __future__ import annotations

import numpy as np

from urban_sim.population import vital_kernels as vk
from urban_sim.population.sparse_draws import uniforms_at
from urban_sim.population.choice_kernels import OUTSIDE, SEAT, TOWN, VILLAGE, _jit



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
    # by household: a living member aged care_age or more in the county; and the rows of the
    # living persons outside, ascending (compacted without a branch: every slot is written)
    n = hh.shape[0]
    care = np.zeros(n_households, dtype=np.bool_)
    out = np.empty(n, dtype=np.intp)
    m = 0
    for i in range(n):
        a = alive[i]
        away = loc[i] == OUTSIDE
        out[m] = i
        m += a & away
        if (age[i] >= care_age) and a and not away:  # rare: a branch is cheap
            care[hh[i]] = True
    return care, out[:m]


def _returning_loop(out, hh, age, care, age_from, coef, growth, u):
    # the threshold min(coef · exp(...), 1) by 2 · (age ≥ age_from) + care (np.minimum: a NaN
    # stays), then the draws compared
    threshold = np.empty(4)
    for k in range(4):
        h = coef * growth[k]
        threshold[k] = h if (h <= 1.0) | (h != h) else 1.0
    back = np.empty(out.shape[0], dtype=np.intp)
    hh_back = np.empty(out.shape[0], dtype=hh.dtype)
    m = 0
    for k in range(out.shape[0]):
        i = out[k]
        h = hh[i]
        # rare (≈ 1 % of those outside return a year): a branch is cheaper than writing every
        # row (2.3 -> 0.8 ms a year at full scale)
        if u[k] < threshold[2 * (age[i] >= age_from) + care[h]]:
            back[m] = i
            hh_back[m] = h
            m += 1
    return back[:m].copy(), hh_back[:m].copy()


def _returns_loop(out, hh, age, care, age_from, coef, growth, u, base, township, loc, years, s_v,
                  s_t):
    # the returning persons (the first out.shape[0] uniforms of u), then their moves with their
    # households' uniforms (the rest of u, by household)
    n_out = out.shape[0]
    who, hh_back = _returning_loop(out, hh, age, care, age_from, coef, growth, u[:n_out])
    u_back = np.empty(who.shape[0])
    for k in range(who.shape[0]):
        u_back[k] = u[n_out + hh_back[k]]
    return who.shape[0], _return_moves_loop(who, hh_back, u_back, base, township, loc, years, s_v,
                                            s_t)


def _growth(g_age, g_care, g_job):
    """``exp(g_age · old + g_care · care + g_job)`` by ``2 · old + care``: NumPy's ``exp`` of the
    exponents, summed as NumPy summed ``g_age * _OLD + g_care * _CARED + g_job``."""
    return np.exp(np.array([(g_age * 0.0 + g_care * 0.0) + g_job, (g_age * 0.0 + g_care * 1.0) + g_job,
                            (g_age * 1.0 + g_care * 0.0) + g_job, (g_age * 1.0 + g_care * 1.0) + g_job]))


def returning(hh, loc, alive, age, n_households, coef, g_age, g_care, g_job, rng):
    """Persons living outside who return this year and their households (return migration).

    The rule (``migration.return_migration``): for every living person outside (ascending
    rows) ``hazard = coef · exp((g_age 1[age ≥ 45] + g_care care_h) + g_job)``, with
    ``care_h`` a living member aged ≥ 75 in the county; the person returns if its uniform of
    ``rng.random(n_outside)`` is below ``min(hazard, 1)``. The exponent takes four values
    (age ≥ 45 or not, care or not): NumPy computes their ``exp`` (the same values as NumPy's
    ``exp`` of the full column, elementwise), the compiled pass the hazards and thresholds
    with the same operations in the same order, and compares the draws.

    Parameters
    ----------
    hh, loc, alive, age : numpy.ndarray, shape (n_persons,)
        Household, location code, living flag and age (years) of each person.
    n_households : int
        Number of households (``hh`` indexes them).
    coef : float
        Return hazard per year before the exponent (``return_hazard_base`` times the talent
        policy's factor).
    g_age, g_care, g_job : float
        Terms of the exponent: ``return_gamma_age`` (aged 45 or more), ``return_gamma_care`` (a
        member aged 75 or more in the county), ``return_gamma_job`` × local job growth.
    rng : numpy.random.Generator
        Draws one uniform per living person outside (``rng.random(n_outside)``).

    Returns
    -------
    tuple of numpy.ndarray
        Returning persons (row indices, ascending) and their households.
    """
    care, out = _care_jit(hh, loc, alive, age, 75, n_households)
    return _returning_jit(out, hh, age, care, 45, coef, _growth(g_age, g_care, g_job),
                          vk.uniforms(rng, len(out)))


def returns(hh, loc, alive, age, base, township, years, coef, g_age, g_care, g_job, s_v, s_t,
            rng, small=4096):
    """Return migration's draws and moves: :func:`returning`, then one uniform per household
    (``rng.random(n_households)``, of which the returning persons' households' are used) and
    :func:`return_moves`.

    With fewer than ``small`` households both batches are drawn at once (``rng.random(n_outside
    + n_households)``, the same values) and one compiled call does the rest; with more, the
    households' values are drawn by :func:`urban_sim.population.sparse_draws.uniforms_at`.

    Returns
    -------
    tuple of int
        Returning persons, and those of them whose destination is the county seat.
    """
    n_households = base.shape[0]
    if n_households >= small:
        who, hh_back = returning(hh, loc, alive, age, n_households, coef, g_age, g_care, g_job, rng)
        u = uniforms_at(rng, n_households, hh_back)
        return len(who), return_moves(who, hh_back, u, base, township, loc, years, s_v, s_t)
    care, out = _care_jit(hh, loc, alive, age, 75, n_households)
    n, n_seat = _returns_jit(out, hh, age, care, 45, coef, _growth(g_age, g_care, g_job),
                             rng.random(len(out) + n_households), base, township, loc, years, s_v,
                             s_t)
    return int(n), int(n_seat)


_care_jit = _jit(_care_loop)
_returning_loop = _jit(_returning_loop)  # called from the compiled loop below
_returning_jit = _returning_loop


# --------------------------------------------------------------------------- repair of bases
MOST_URBAN = np.array([OUTSIDE, VILLAGE, TOWN, TOWN] + [SEAT] * 4, dtype=np.int8)
"""Most urban location present by ``4 · seat + 2 · town + village`` presence flags
(outside if none)."""


def _rebase_one(flags, f, h, base, years, most_urban):
    base[h] = most_urban[4 * flags[f + SEAT] + 2 * flags[f + TOWN] + flags[f + VILLAGE]]
    years[h] = 0


_rebase_one = _jit(_rebase_one)  # called from the compiled loops below


def _rebase_loop(flags, households, base, years, most_urban):
    for j in range(households.shape[0]):
        h = households[j]
        if not flags[4 * j + base[h]]:  # rare: a branch is cheap
            _rebase_one(flags, 4 * j, h, base, years, most_urban)


def _rebase_all_loop(flags, base, years, most_urban):
    for h in range(base.shape[0]):
        if not flags[4 * h + base[h]]:  # rare: a branch is cheap
            _rebase_one(flags, 4 * h, h, base, years, most_urban)


_rebase_jit = _jit(_rebase_loop)
_rebase_all_jit = _jit(_rebase_all_loop)


def rebase_absent(flags: np.ndarray, base: np.ndarray, years: np.ndarray) -> None:
    """Each household without a living member at its base moves its base to the most urban
    in-county location where it has one (outside if none) and gets 0 years there.

    Parameters
    ----------
    flags : numpy.ndarray of bool, shape (≥ 4 · n_households,)
        Presence flags ``4 h + location`` of household ``h``.
    base, years : numpy.ndarray, shape (n_households,)
        Base location codes and years at the base, written in place.
    """
    _rebase_all_jit(flags, base, years, MOST_URBAN)


def _repair_of_loop(hh, loc, alive, households, base, years, most_urban):
    slot = np.full(base.shape[0], -1, dtype=np.int32)
    for j in range(households.shape[0]):
        slot[households[j]] = j
    flags = np.zeros((households.shape[0], 4), dtype=np.bool_)
    _presence_of_jit(hh, loc, alive, slot, flags)
    _rebase_jit(flags.ravel(), households, base, years, most_urban)


_repair_of_jit = _jit(_repair_of_loop)


def repair_of(hh: np.ndarray, loc: np.ndarray, alive: np.ndarray, households: np.ndarray,
              base: np.ndarray, years: np.ndarray) -> None:
    """:func:`rebase_absent` for ``households`` (distinct) only, with their presence flags
    (:func:`presence_of`), in one call.

    Parameters
    ----------
    hh, loc, alive : numpy.ndarray, shape (n_persons,)
        Household, location code and alive of each person.
    households : numpy.ndarray of int, shape (m,)
    base, years : numpy.ndarray, shape (n_households,)
        Written in place.
    """
    _repair_of_jit(hh, loc, alive, households, base, years, MOST_URBAN)


# --------------------------------------------------------------------------- returns
def _return_moves_loop(who, hh, u, base, township, loc, years, s_v, s_t):
    m = who.shape[0]
    dest = np.empty(m, dtype=np.int8)
    was_out = np.empty(m, dtype=np.bool_)
    for k in range(m):  # the bases before any is written
        h = hh[k]
        b = base[h]
        uk = u[k]
        pick = VILLAGE if uk < s_v else (TOWN if uk < s_v + s_t else SEAT)
        pick = SEAT if (pick == TOWN) & (township[h] == 0) else pick
        was_out[k] = b == OUTSIDE
        dest[k] = pick if b == OUTSIDE else b
    n_seat = 0
    for k in range(m):
        h = hh[k]
        loc[who[k]] = dest[k]
        n_seat += dest[k] == SEAT
        if was_out[k]:
            base[h] = dest[k]
            years[h] = 0
    return n_seat


_return_moves_loop = _jit(_return_moves_loop)  # called from the compiled loop below
_return_moves_jit = _return_moves_loop
_returns_jit = _jit(_returns_loop)


def return_moves(who, hh, u, base, township, loc, years, s_v, s_t) -> int:
    """The returning persons' destinations, moved.

    A person returns to its household's base; a household based outside picks the village
    (``u < s_v``), the town (``u < s_v + s_t``; the county seat in township 0) or the county
    seat and gets that base, with 0 years.

    Parameters
    ----------
    who, hh : numpy.ndarray, shape (m,)
        Returning persons and their households (:func:`returning`).
    u : numpy.ndarray of float, shape (m,)
        The household's uniform of each returning person.
    base, township : numpy.ndarray, shape (n_households,)
        Base location codes (written for the households based outside) and townships.
    loc : numpy.ndarray of int8, shape (n_persons,)
        Location codes, written for ``who``.
    years : numpy.ndarray, shape (n_households,)
        Years at the base, written for the households based outside.
    s_v, s_t : float
        ``returnee_share_village`` and ``returnee_share_town``.

    Returns
    -------
    int
        Returning persons whose destination is the county seat.
    """
    return int(_return_moves_jit(who, hh, u, base, township, loc, years, s_v, s_t))


# --------------------------------------------------------------------------- housing supply
def _housing_loop(occupied, refused, housing, vacancy_target, response, seats_free, vacancy):
    # developers build toward the target vacancy rate, the free dwellings and school seats:
    # CountyModel.capacity_allocation's NumPy operations in their order (np.maximum: a NaN stays)
    div = 1 - vacancy_target
    for t in range(housing.shape[0]):
        x = (occupied[t] + refused[t]) / div - housing[t]
        housing[t] += response * (x if (x >= 0.0) | (x != x) else 0.0)
    for t in range(housing.shape[0]):
        f = housing[t] - occupied[t]
        vacancy[t, 0] = f if (f >= 0.0) | (f != f) else 0.0
        vacancy[t, 1] = np.inf
    vacancy[0, 1] = seats_free


_housing_jit = _jit(_housing_loop)


def housing_and_vacancy(occupied, refused, housing, vacancy_target, response, seats_free):
    """Private housing supply, then the free dwellings and school seats by township place.

    ``housing += response · max((occupied + refused) / (1 − vacancy_target) − housing, 0)``
    (written in place), then free dwellings ``max(housing − occupied, 0)`` and free school
    seats (``seats_free`` at the county seat, unbounded in the towns).

    Parameters
    ----------
    occupied, refused, housing : numpy.ndarray of float, shape (K,)
        Occupied dwellings, households refused a dwelling last year and dwellings by township
        place (full scale).
    vacancy_target, response : float
        ``housing_vacancy_target`` and ``housing_market_response``.
    seats_free : float
        Free county-seat school seats.

    Returns
    -------
    numpy.ndarray of float, shape (K, 2)
        Free dwellings and free school seats.
    """
    vacancy = np.empty((len(housing), 2))
    _housing_jit(occupied, refused, housing, vacancy_target, response, seats_free, vacancy)
    return vacancy


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
