"""Compiled passes over the person rows: presence flags and counts by key (docs/performance.md).

Each year the model makes a few dozen passes over all person rows; several of them only build an
integer key per living person and scatter it (flags of households present at a location, counts
of persons by place and age class). NumPy needs three to five full-length temporaries for each;
one compiled loop (numba) reads every column once. Every kernel here is integer arithmetic on
the same keys as its NumPy version, so the results are identical (``tests/test_kernels.py``
compares both). Without numba the NumPy version runs (``COMPILED`` is False).

Compiled code is cached on disk (numba's ``cache=True``: ``__pycache__`` beside this file, or
``NUMBA_CACHE_DIR``), so a fresh process loads it instead of compiling it (≈ 1 s per kernel).
"""

from __future__ import annotations

import numpy as np

try:  # numba is a dependency (pyproject.toml); the fallback keeps a checkout without it working
    import numba
except ImportError:  # pragma: no cover - exercised by the equivalence test's NumPy branch
    numba = None

COMPILED = numba is not None
"""Whether the compiled kernels are used."""


def _jit(fn):
    return numba.njit(cache=True, nogil=True)(fn) if COMPILED else None


def _presence_loop(hh, loc, alive, n_households):
    pres = np.zeros(4 * n_households + 1, dtype=np.bool_)
    spare = 4 * n_households
    for i in range(hh.shape[0]):
        pres[np.int64(hh[i]) * 4 + loc[i] if alive[i] else spare] = True
    return pres


def _presence_numpy(hh, loc, alive, n_households):
    key = np.multiply(hh, 4, dtype=np.intp)
    key += loc
    np.putmask(key, ~alive, 4 * n_households)  # the dead mark a spare last cell
    pres = np.zeros(4 * n_households + 1, dtype=bool)
    pres[key] = True
    return pres


def presence_flags(hh: np.ndarray, loc: np.ndarray, alive: np.ndarray, n_households: int,
                   compiled: bool = COMPILED) -> np.ndarray:
    """Flags ``household × 4 + location`` of every living person's household and location,
    shape (4 · n_households + 1,) of bool; the last cell is a spare (set when anyone is dead)."""
    fn = _presence_jit if compiled else _presence_numpy
    return fn(hh, loc, alive, n_households)


def _place_age_loop(loc, hh, township, alive, age, age_class, K, n_classes):
    counts = np.zeros((4 * K + 1) * n_classes, dtype=np.int64)
    dead = 4 * K
    for i in range(hh.shape[0]):
        row = np.int64(loc[i]) * K + township[hh[i]] if alive[i] else dead
        counts[row * n_classes + age_class[age[i]]] += 1
    return counts


def _place_age_numpy(loc, hh, township, alive, age, age_class, K, n_classes):
    key = np.multiply(loc, K, dtype=np.intp)
    key += township.take(hh)
    np.putmask(key, ~alive, 4 * K)
    key *= n_classes
    key += age_class.take(age)
    return np.bincount(key, minlength=(4 * K + 1) * n_classes)


def counts_by_place_and_age(loc: np.ndarray, hh: np.ndarray, township: np.ndarray,
                            alive: np.ndarray, age: np.ndarray, age_class: np.ndarray, K: int,
                            n_classes: int, compiled: bool = COMPILED) -> np.ndarray:
    """Persons by ``(location × K + township of the household) × n_classes + age class``, the
    dead in row ``4 K``; shape ((4 K + 1) · n_classes,) of int64."""
    fn = _place_age_jit if compiled else _place_age_numpy
    return fn(loc, hh, township, alive, age, age_class, K, n_classes)


def _away_loop(loc, hh, village, alive, home, n_villages):
    counts = np.zeros(4 * n_villages, dtype=np.int64)
    for i in range(hh.shape[0]):
        if alive[i] and loc[i] != home:
            counts[np.int64(village[hh[i]]) * 4 + loc[i]] += 1
    return counts


def _away_numpy(loc, hh, village, alive, home, n_villages):
    away = np.flatnonzero(alive & (loc != home))
    key = np.multiply(village.take(hh.take(away)), 4, dtype=np.intp)
    key += loc.take(away)
    return np.bincount(key, minlength=4 * n_villages)


def counts_away_by_village(loc: np.ndarray, hh: np.ndarray, village: np.ndarray,
                           alive: np.ndarray, home: int, n_villages: int,
                           compiled: bool = COMPILED) -> np.ndarray:
    """Living persons not at location ``home`` by ``village of the household × 4 + location``,
    shape (4 · n_villages,) of int64."""
    fn = _away_jit if compiled else _away_numpy
    return fn(loc, hh, village, alive, home, n_villages)


def _at_base_loop(hh, loc, alive, age, base, age_class, outside, adult_age, n_households):
    n = hh.shape[0]
    at_base = np.empty(n, dtype=np.bool_)
    by_class = np.zeros(3 * n_households, dtype=np.int64)
    youngest = np.full(n_households, 200, dtype=np.int16)
    for i in range(n):
        h = hh[i]
        b = base[h]
        here = alive[i] and loc[i] == b
        at_base[i] = here
        if here and b != outside:
            a = age[i]
            by_class[np.int64(h) * 3 + age_class[a]] += 1
            if a >= adult_age and a < youngest[h]:
                youngest[h] = a
    return at_base, by_class, youngest


def _at_base_numpy(hh, loc, alive, age, base, age_class, outside, adult_age, n_households):
    base_of = base.take(hh)
    at_base = loc == base_of
    at_base &= alive
    sel = np.flatnonzero(at_base & (base_of != outside))
    hb, agb = hh.take(sel).astype(np.intp), age.take(sel)
    code = np.multiply(hb, 3)
    code += age_class.take(agb)
    by_class = np.bincount(code, minlength=3 * n_households)
    youngest = np.full(n_households, 200, dtype=np.int16)
    adult = np.flatnonzero(agb >= adult_age)
    np.minimum.at(youngest, hb.take(adult), agb.take(adult))
    return at_base, by_class, youngest


def members_at_base(hh: np.ndarray, loc: np.ndarray, alive: np.ndarray, age: np.ndarray,
                    base: np.ndarray, age_class: np.ndarray, outside: int, adult_age: int,
                    n_households: int, compiled: bool = COMPILED
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Living persons at their household's base, and for bases in the county the members by
    household and class (``age_class`` of age 0, 1 or 2) and the age of the youngest member
    aged ``adult_age`` or more (200 if none).

    Returns
    -------
    at_base : numpy.ndarray of bool, shape (n_persons,)
    by_class : numpy.ndarray of int64, shape (3 · n_households,)
        Index ``household × 3 + class``.
    youngest : numpy.ndarray of int16, shape (n_households,)
    """
    fn = _at_base_jit if compiled else _at_base_numpy
    return fn(hh, loc, alive, age, base, age_class, outside, adult_age, n_households)


_presence_jit = _jit(_presence_loop)
_place_age_jit = _jit(_place_age_loop)
_away_jit = _jit(_away_loop)
_at_base_jit = _jit(_at_base_loop)
