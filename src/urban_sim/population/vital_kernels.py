"""Compiled loops of the demography phase: ageing, deaths, births, household formation.

Each rule used to be several NumPy passes over all person rows (masks, ``flatnonzero``,
gathers, one batch of uniforms); here one compiled loop (numba, via
:func:`urban_sim.population.kernels._jit`) reads each column once and draws its uniforms
inside the loop with ``rng.random()``, which yields the same values, in the same order, as
NumPy's batched ``rng.random(n)``. Every loop draws exactly where the NumPy rule drew: one
uniform per living person in row order (deaths), then one per woman aged 15–49 in row order
(births), then one per leaver candidate in row order (household formation), so the random
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

from urban_sim.population.kernels import _jit

MAX_AGE = 110
"""Last age of the rate schedules (older persons get the rate of ``MAX_AGE``)."""


def _deaths_loop(age, alive, hh, q, rng, n_households):
    n = age.shape[0]
    dead = np.empty(n, dtype=np.intp)
    oldest = np.zeros(n_households, dtype=age.dtype)
    nd = 0
    for i in range(n):
        if not alive[i]:
            continue
        age[i] += 1
        a = age[i]
        if rng.random() < q[min(a, MAX_AGE)]:
            alive[i] = False
            dead[nd] = i
            nd += 1
            continue
        h = hh[i]
        o = oldest[h]
        oldest[h] = a if a > o else o  # branch-free (a branch here cost 3 ms at full scale)
    return dead[:nd], oldest


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


def _mothers_loop(women, age, f, rng):
    out = np.empty(women.shape[0], dtype=np.intp)
    k = 0
    for j in range(women.shape[0]):
        w = women[j]
        out[k] = w
        k += rng.random() < f[age[w]]
    return out[:k]


def _leavers_loop(young, hh, age, oldest, gap, rate, rng):
    cand = np.empty(young.shape[0], dtype=np.intp)
    k = 0
    for j in range(young.shape[0]):  # branch-free: a branch on this test mispredicts often
        i = young[j]
        cand[k] = i
        k += oldest[hh[i]] >= age[i] + gap
    m = 0
    for j in range(k):  # in place: m <= j
        cand[m] = cand[j]
        m += rng.random() < rate
    return cand[:m]


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


_deaths_jit = _jit(_deaths_loop)
_groups_jit = _jit(_groups_loop)
_split_jit = _jit(_split_loop)
_mothers_jit = _jit(_mothers_loop)
_leavers_jit = _jit(_leavers_loop)
_follow_mother_jit = _jit(_follow_mother_loop)


def age_and_die(age: np.ndarray, alive: np.ndarray, female: np.ndarray, hh: np.ndarray,
                q: np.ndarray, n_households: int,
                rng: np.random.Generator):
    """Ageing and deaths in one pass over the person rows, updating ``age`` and ``alive``.

    Every living person ages one year, then dies with probability ``q[min(age, MAX_AGE)]``:
    one uniform per living person in row order (as NumPy's ``rng.random(n_living)``). A
    second, vectorised loop codes the groups of the survivors, a third lists them.

    Parameters
    ----------
    age, alive, female, hh : numpy.ndarray, shape (n,)
        Person columns (int16, bool, bool, int32); ``age`` and ``alive`` are updated in place.
    q : numpy.ndarray of float, shape (MAX_AGE + 1,)
        Probability of dying within the year by age.
    n_households : int
    rng : numpy.random.Generator

    Returns
    -------
    dead, women, young, kids : numpy.ndarray of intp
        Ascending rows of those who died; of the surviving women aged 15–49, persons aged
        22–35, and persons under 18 (ages after ageing).
    oldest : numpy.ndarray, shape (n_households,), dtype of ``age``
        Age of the oldest surviving member per household (0 if none).
    """
    dead, oldest = _deaths_jit(age, alive, hh, q, rng, n_households)
    code = np.empty(len(age), dtype=np.uint8)
    _groups_jit(alive, female, age, code)
    women, young, kids = _split_jit(code)
    return dead, women, young, kids, oldest


def mothers(women: np.ndarray, age: np.ndarray, f: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Women who give birth: one uniform per row of ``women`` in order, birth if ``u <
    f[age]`` (as ``women[rng.random(len(women)) < f.take(age.take(women))]``); intp rows."""
    return _mothers_jit(women, age, f, rng)


def leavers(young: np.ndarray, hh: np.ndarray, age: np.ndarray, oldest: np.ndarray, gap: int,
            rate: float, rng: np.random.Generator) -> np.ndarray:
    """Rows of ``young`` whose household's oldest member (``oldest``, by household) is at least
    ``gap`` years older are candidates; one uniform per candidate in order, leaving if ``u <
    rate``. Ascending intp rows of the leavers."""
    return _leavers_jit(young, hh, age, oldest, gap, rate, rng)


def follow_mothers(kids: np.ndarray, first_newborn: int, mother: np.ndarray, hh: np.ndarray,
                   leavers: np.ndarray, new: np.ndarray) -> None:
    """Children go with a leaving mother: each row of ``kids`` and each row from
    ``first_newborn`` on whose mother is in ``leavers`` (ascending) gets the mother's new
    household ``new[k]`` (``k``: her position in ``leavers``); ``hh`` is updated in place."""
    _follow_mother_jit(kids, first_newborn, mother, hh, leavers, new)
