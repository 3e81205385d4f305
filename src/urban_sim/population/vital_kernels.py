"""Compiled loops of the demography phase: ageing, deaths, births, household formation.

Each rule used to be several NumPy passes over all person rows (masks, ``flatnonzero``,
gathers, one batch of uniforms); here one compiled loop (numba, via
:func:`urban_sim.population.kernels._jit`) reads each column once and draws its uniforms
inside the loop, the same values in the same order as NumPy's batched ``rng.random(n)``. For
NumPy's default bit generator (PCG64) the draws step its 128-bit LCG inline (``_draw``: the
XSL-RR output and ``(x >> 11) · 2⁻⁵³`` as NumPy's ``random()``; O'Neill 2014), in two
interleaved lanes that each jump two steps, so that one draw does not wait for the multiply
of the previous one: ≈ 1.4 ns a uniform against ≈ 6 ns through numba's ``Generator``
interface (an indirect call per draw) and ≈ 2.5 ns for NumPy's batch; the generator's state
is read before and set after the call (:func:`~urban_sim.population.sparse_draws.pcg64_lanes`).
Any other bit generator is drawn through numba's ``Generator.random()``. The same stepping
fills the batches of other phases (:func:`uniforms`, ``rng.random(n)``). Every loop draws
exactly where the NumPy rule drew: one uniform per living person in row order (deaths), then
one per woman aged 15–49 in row order (births), then one per newborn (sex), then one per
leaver candidate in row order (household formation), so the random
stream and every result are bit-identical to the former NumPy rules (kept as the reference in
``tests/test_kernels_vital.py``). Comparisons and integer arithmetic only: no floating-point
operation is reordered.

The deaths loop also finds the oldest living member per household, and the survivors that
the later rules select from (women aged 15–49, persons aged 22–35, persons under 18) are
listed once, so births and household formation do not pass over all rows again. Tests on
columns are done in a separate loop without dependence between rows, which LLVM vectorises:
ageing, deaths and the lists took 4.4 ms at full scale with the tests inside the deaths loop,
3.6 ms this way.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from urban_sim.population.kernels import _jit
from urban_sim.population.sparse_draws import pcg64_lanes, set_pcg64_lanes

MAX_AGE = 110
"""Last age of the rate schedules (older persons get the rate of ``MAX_AGE``)."""


_S11, _S58, _S63, _ZERO = np.uint64(11), np.uint64(58), np.uint64(63), np.uint64(0)


@intrinsic
def _mulhi(typingctx, x, y):
    """High 64 bits of the 128-bit product of two uint64 (one ``mul`` instruction)."""
    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(p, ir.Constant(wide, 64)), ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


def _draw(src, lanes):
    """``(lanes, u)``: the next uniform ``u`` of ``src`` and the PCG64 lanes after it."""


@overload(_draw, inline="always")
def _draw_impl(src, lanes):
    if isinstance(src, types.NumPyRandomGeneratorType):  # any generator: its own interface
        return lambda src, lanes: (lanes, src.random())

    def pcg64_step(src, lanes):
        # NumPy's PCG64 inline, two lanes: lanes = the states after k + 1 and k + 2 steps
        # (the next output is that of the first); src = (a², c(a + 1)), the map of two steps,
        # as (a_hi, a_lo, c_hi, c_lo). Two independent chains halve the latency per draw.
        hi, lo = lanes[0], lanes[1]
        x = hi ^ lo  # XSL-RR output, then (x >> 11) · 2^-53 as NumPy's random()
        rot = hi >> _S58
        x = (x >> rot) | (x << ((_ZERO - rot) & _S63))
        n_lo = lo * src[1]
        n_hi = _mulhi(lo, src[1]) + lo * src[0] + hi * src[1]  # a² · s mod 2^128
        lo = n_lo + src[3]
        hi = n_hi + src[2] + np.uint64(lo < n_lo)
        return (lanes[2], lanes[3], hi, lo), np.float64(x >> _S11) * (1.0 / 9007199254740992.0)
    return pcg64_step


def _deaths_loop(age, alive, hh, q, src, lanes, n_households):
    n = age.shape[0]
    dead = np.empty(n, dtype=np.intp)
    oldest = np.zeros(n_households, dtype=age.dtype)
    nd = 0
    for i in range(n):
        if not alive[i]:
            continue
        age[i] += 1
        a = age[i]
        lanes, u = _draw(src, lanes)
        if u < q[min(a, MAX_AGE)]:
            alive[i] = False
            dead[nd] = i
            nd += 1
            continue
        h = hh[i]
        o = oldest[h]
        oldest[h] = a if a > o else o  # branch-free (a branch here cost 3 ms at full scale)
    return dead[:nd], oldest, lanes


def _groups_loop(alive, female, age, code):
    # no dependence between rows: LLVM vectorises this loop (the same tests inside the loop
    # above made it ~1 ms slower at full scale)
    for i in range(alive.shape[0]):
        a = age[i]
        c = ((female[i] & (np.uint16(a - 15) <= 34)) | ((np.uint16(a - 22) <= 13) << 1)
             | ((a < 18) << 2))
        code[i] = c if alive[i] else 0


def _split_loop(code):
    n = code.shape[0]
    women = np.empty(n, dtype=np.intp)
    young = np.empty(n, dtype=np.intp)
    kids = np.empty(n, dtype=np.intp)
    nw = ny = nk = 0
    for i in range(n):  # branch-free appends: the row is written, kept if it qualifies
        c = code[i]
        women[nw] = i
        nw += c & 1
        young[ny] = i
        ny += (c >> 1) & 1
        kids[nk] = i
        nk += c >> 2
    return women[:nw], young[:ny], kids[:nk]


def _mothers_loop(women, age, f, src, lanes):
    out = np.empty(women.shape[0], dtype=np.intp)
    k = 0
    for j in range(women.shape[0]):
        w = women[j]
        lanes, u = _draw(src, lanes)
        if u < f[age[w]]:  # rare (≈ 3 % of women a year): a branch is cheaper (0.9 -> 0.5 ms)
            out[k] = w
            k += 1
    return out[:k], lanes


def _leavers_loop(young, hh, age, oldest, gap, rate, src, lanes):
    cand = np.empty(young.shape[0], dtype=np.intp)
    k = 0
    for j in range(young.shape[0]):  # branch-free: a branch on this test mispredicts often
        i = young[j]
        cand[k] = i
        k += oldest[hh[i]] >= age[i] + gap
    m = 0
    for j in range(k):  # in place: m <= j
        lanes, u = _draw(src, lanes)
        if u < rate:  # rare: a branch is cheaper
            cand[m] = cand[j]
            m += 1
    return cand[:m], lanes


def _follow_mother_loop(kids, first_newborn, mother, hh, leavers, new):
    n = mother.shape[0]
    leaving = np.zeros(n, dtype=np.bool_)
    for j in range(leavers.shape[0]):
        leaving[leavers[j]] = True
    for j in range(kids.shape[0] + n - first_newborn):
        i = kids[j] if j < kids.shape[0] else first_newborn + j - kids.shape[0]
        m = mother[i]
        if m >= 0 and leaving[m]:
            hh[i] = new[np.searchsorted(leavers, m)]


def _sexes_loop(k, p_female, src, lanes):
    out = np.empty(k, dtype=np.bool_)
    for j in range(k):
        lanes, u = _draw(src, lanes)
        out[j] = u < p_female
    return out, lanes


_deaths_loop = _jit(_deaths_loop)  # the loops above are called from the one below
_groups_loop = _jit(_groups_loop)
_split_loop = _jit(_split_loop)
_mothers_loop = _jit(_mothers_loop)
_sexes_loop = _jit(_sexes_loop)
_leavers_loop = _jit(_leavers_loop)


def _vital_loop(age, alive, female, hh, q, f, p_female, n_households, gap, rate, src, state):
    lanes = (state[0], state[1], state[2], state[3])
    dead, oldest, lanes = _deaths_loop(age, alive, hh, q, src, lanes, n_households)
    code = np.empty(age.shape[0], dtype=np.uint8)
    _groups_loop(alive, female, age, code)
    women, young, kids = _split_loop(code)
    mothers, lanes = _mothers_loop(women, age, f, src, lanes)
    girls, lanes = _sexes_loop(mothers.shape[0], p_female, src, lanes)
    leavers, lanes = _leavers_loop(young, hh, age, oldest, gap, rate, src, lanes)
    state[0], state[1], state[2], state[3] = lanes
    return dead, mothers, girls, leavers, kids


_vital_jit = _jit(_vital_loop)
_follow_mother_jit = _jit(_follow_mother_loop)


def _newborns_loop(first, mothers, girls, female, hh, loc, alive, mother, sector, outside):
    # rows first .. first + k - 1: a newborn per mother, in her household and location
    # (the columns not written are zeros: age 0, not trained); the newborns of mothers at the
    # location ``outside`` are counted
    abroad = 0
    for i in range(mothers.shape[0]):
        m = mothers[i]
        r = first + i
        female[r] = girls[i]
        hh[r] = hh[m]
        loc[r] = loc[m]
        alive[r] = True
        mother[r] = m
        sector[r] = -1
        abroad += loc[m] == outside
    return abroad


def _new_households_loop(first, leavers, p_hh, p_loc, village, township, base, hukou_urban):
    # rows first .. first + k - 1: a household per leaver with the home village, township
    # and hukou type of the leaver's household and its base where the leaver lives (the
    # columns not written are zeros); the leaver joins it
    for i in range(leavers.shape[0]):
        j = leavers[i]
        old = p_hh[j]
        r = first + i
        village[r] = village[old]
        township[r] = township[old]
        base[r] = p_loc[j]
        hukou_urban[r] = hukou_urban[old]
        p_hh[j] = r


_newborns_jit = _jit(_newborns_loop)
_new_households_jit = _jit(_new_households_loop)


def vital_draws(age: np.ndarray, alive: np.ndarray, female: np.ndarray, hh: np.ndarray,
                q: np.ndarray, f: np.ndarray, p_female: float, n_households: int, gap: int,
                rate: float, rng: np.random.Generator):
    """Ageing, deaths and the draws of births and household formation, in one compiled call.

    In this order: every living person ages one year, then dies with probability
    ``q[min(age, MAX_AGE)]`` (one uniform per living person in row order, as NumPy's
    ``rng.random(n_living)``); each surviving woman aged 15–49 gives birth with probability
    ``f[age]`` (one uniform per woman in row order); each newborn is a girl with probability
    ``p_female`` (one uniform per newborn, in the order of the mothers); each surviving person
    aged 22–35 whose household's oldest surviving member is at least ``gap`` years older
    leaves with probability ``rate`` (one uniform per such candidate in row order). ``age``
    and ``alive`` are updated in place; nothing else is written.

    Parameters
    ----------
    age, alive, female, hh : numpy.ndarray, shape (n,)
        Person columns (int16, bool, bool, int32).
    q, f : numpy.ndarray of float, shape (MAX_AGE + 1,)
        Probability of dying within the year and births per woman per year, by age.
    p_female : float
        Probability that a newborn is a girl.
    n_households : int
    gap : int
        Years (at least) between a leaver and the oldest member of the household.
    rate : float
        Probability that a candidate leaves.
    rng : numpy.random.Generator
        Advanced as by the NumPy rule's batches (its buffered 32-bit value kept).

    Returns
    -------
    dead, mothers, leavers : numpy.ndarray of intp
        Ascending rows of those who died, of the mothers and of the leavers.
    girls : numpy.ndarray of bool, shape (len(mothers),)
        Sex of each mother's newborn.
    kids : numpy.ndarray of intp
        Ascending rows of the surviving persons under 18 (after ageing).
    """
    bg = rng.bit_generator
    if type(bg) is not np.random.PCG64:  # another generator: drawn through its interface
        return _vital_jit(age, alive, female, hh, q, f, p_female, n_households, gap, rate, rng,
                          np.zeros(4, np.uint64))
    lanes, step = pcg64_lanes(bg)
    out = _vital_jit(age, alive, female, hh, q, f, p_female, n_households, gap, rate, step, lanes)
    set_pcg64_lanes(bg, lanes)
    return out


def _fill_loop(out, src, state):
    lanes = (state[0], state[1], state[2], state[3])
    for i in range(out.shape[0]):
        lanes, u = _draw(src, lanes)
        out[i] = u
    state[0], state[1], state[2], state[3] = lanes


_fill_jit = _jit(_fill_loop)


def uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.random(n)``: the same values and generator state, for PCG64 drawn by the inline
    stepping of this module (≈ 1.4 ns a value against ≈ 2.5 ns for NumPy's batch; below 4,096
    values NumPy's batch, whose call costs less than reading and setting the state)."""
    bg = rng.bit_generator
    if type(bg) is not np.random.PCG64 or n < 4096:
        return rng.random(n)
    lanes, step = pcg64_lanes(bg)
    out = np.empty(n)
    _fill_jit(out, step, lanes)
    set_pcg64_lanes(bg, lanes)
    return out


def add_newborns(persons, mothers: np.ndarray, girls: np.ndarray, outside: int) -> tuple:
    """Append a newborn per mother to ``persons`` (a :class:`~urban_sim.population.state.Table`)
    in one compiled pass: female as ``girls``, household and location of the mother,
    ``alive``, ``mother`` the mother's row, ``sector`` −1; the other columns 0 (age 0, not
    trained). The same rows as ``persons.append(female=girls, hh=hh[mothers],
    loc=loc[mothers], alive=True, mother=mothers, sector=-1)``.

    Parameters
    ----------
    persons : urban_sim.population.state.Table
        The persons (``female``, ``hh``, ``loc``, ``alive``, ``mother``, ``sector`` written).
    mothers : numpy.ndarray of intp, shape (k,)
        Rows of the mothers.
    girls : numpy.ndarray of bool, shape (k,)
    outside : int
        Location code outside the county.

    Returns
    -------
    born : numpy.ndarray of intp, shape (k,)
        Rows of the newborns.
    abroad : int
        Newborns whose mother is at ``outside``.
    """
    k, first = len(mothers), len(persons)
    c = persons.reserve(k)
    abroad = _newborns_jit(first, mothers, girls, c["female"], c["hh"], c["loc"], c["alive"],
                           c["mother"], c["sector"], outside)
    return persons.extend(k), abroad


def add_households(persons, households, leavers: np.ndarray) -> np.ndarray:
    """Append a household per leaver to ``households`` in one compiled pass: the home
    village, township and hukou type of the leaver's household, the base where the leaver
    lives, the other columns 0 (no land tie, nothing rented or withdrawn, 0 years at the
    base); each leaver's ``hh`` becomes the new household.

    Parameters
    ----------
    persons, households : urban_sim.population.state.Table
    leavers : numpy.ndarray of intp, shape (k,)
        Rows of the leavers.

    Returns
    -------
    numpy.ndarray of intp, shape (k,)
        Rows of the new households.
    """
    k, first = len(leavers), len(households)
    c = households.reserve(k)
    _new_households_jit(first, leavers, persons.hh, persons.loc, c["village"], c["township"],
                        c["base"], c["hukou_urban"])
    return households.extend(k)


def follow_mothers(kids: np.ndarray, first_newborn: int, mother: np.ndarray, hh: np.ndarray,
                   leavers: np.ndarray, new: np.ndarray) -> None:
    """Children go with a leaving mother: each row of ``kids`` and each row from
    ``first_newborn`` on whose mother is in ``leavers`` (ascending) gets the mother's new
    household ``new[k]`` (``k``: her position in ``leavers``); ``hh`` is updated in place."""
    _follow_mother_jit(kids, first_newborn, mother, hh, leavers, new)
