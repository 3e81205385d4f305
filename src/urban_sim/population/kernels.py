"""Compiled passes over the person rows: presence flags and counts by key (docs/performance.md).

Each year the model makes a few dozen passes over all person rows; several of them only build an
integer key per living person and scatter it (flags of households present at a location, counts
of persons by place and age class). NumPy needs three to five full-length temporaries for each;
one compiled loop (numba) reads every column once. Every kernel here is integer arithmetic on
the same keys as the NumPy rule it replaced, so the results are identical (``tests/test_kernels.py``
keeps those rules and compares). Loops are kept
free of data-dependent branches where they scatter (a spare cell takes what is not counted)
unless most rows would hit that one cell (absent members: a branch is faster there):
a loop that branches on ``alive`` and ``loc`` ran slower than NumPy's masks (measured: members
at the base 6 ms vs 4 ms, living outside 4.4 ms vs 1.1 ms at full scale), so those passes stay
in NumPy.

Compiled code is cached on disk (numba's ``cache=True``: ``__pycache__`` beside this file, or
``NUMBA_CACHE_DIR``), so a fresh process loads it instead of compiling it (≈ 1 s per kernel).
"""

from __future__ import annotations

import os

import numba
import numpy as np


COMPILED_KERNELS: list = []
"""Every kernel made by :func:`_jit` (numba dispatchers), for :func:`uncached_kernels`."""


def _jit(fn, **options):
    """``fn`` compiled by numba (cached on disk, no GIL, and ``options``); every compiled pass of
    the model uses it."""
    kernel = numba.njit(cache=True, nogil=True, **options)(fn)
    COMPILED_KERNELS.append(kernel)
    return kernel


def uncached_kernels() -> list[str]:
    """Names of the imported kernels that numba's disk cache does not hold yet: the first run
    after installing compiles them (≈ 35–40 s for all ≈ 75 on 2 cores). Empty when the cache cannot be inspected
    (numba's cache object is internal; a newer numba may name it differently)."""
    missing = []
    for kernel in COMPILED_KERNELS:
        try:
            index = kernel._cache._cache_file._index_path
        except AttributeError:
            return []
        if not os.path.exists(index):
            missing.append(kernel.py_func.__qualname__)
    return missing


def _presence_loop(hh, loc, alive, n_households):
    # unsigned indices: no wrap-around of negative ones (52 -> 40 us at scale 0.1)
    pres = np.zeros(4 * n_households + 1, dtype=np.bool_)
    spare, four = np.uint64(4 * n_households), np.uint64(4)
    for i in range(hh.shape[0]):
        pres[np.uint64(hh[i]) * four + np.uint64(loc[i]) if alive[i] else spare] = True
    return pres


def presence_flags(hh: np.ndarray, loc: np.ndarray, alive: np.ndarray, n_households: int) -> np.ndarray:
    """Flags ``household × 4 + location`` of every living person's household and location,
    shape (4 · n_households + 1,) of bool; the last cell is a spare (set when anyone is dead)."""
    return _presence_jit(hh, loc, alive, n_households)


def _place_age_loop(loc, hh, township, alive, age, age_class, K, n_classes, n_households, counts,
                    pres):
    # indices unsigned (codes, households and ages of the living are >= 0): numba then adds no
    # wrap-around of negative indices (0.24 -> 0.15 ms at scale 0.1); into counts and pres,
    # zeros made by the caller (numba boxes no returned array)
    dead, spare = np.uint64(4 * K), np.uint64(4 * n_households)
    uK, n_cl, four = np.uint64(K), np.uint64(n_classes), np.uint64(4)
    for i in range(hh.shape[0]):
        h, lc = np.uint64(hh[i]), np.uint64(loc[i])
        row = lc * uK + np.uint64(township[h]) if alive[i] else dead
        counts[row * n_cl + np.uint64(age_class[np.uint64(age[i])])] += 1
        pres[h * four + lc if alive[i] else spare] = True
    return 0


def counts_and_presence(loc: np.ndarray, hh: np.ndarray, township: np.ndarray,
                        alive: np.ndarray, age: np.ndarray, age_class: np.ndarray, K: int,
                        n_classes: int, n_households: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Persons by ``(location × K + township of the household) × n_classes + age class``, the
    dead in row ``4 K``, shape ((4 K + 1) · n_classes,) of int64; and the presence flags of
    :func:`presence_flags` (one pass over the person rows for both)."""
    counts = np.zeros((4 * K + 1) * n_classes, dtype=np.int64)
    pres = np.zeros(4 * n_households + 1, dtype=np.bool_)
    _place_age_jit(loc, hh, township, alive, age, age_class, K, n_classes, n_households, counts,
                   pres)
    return counts, pres


def _sector_loop(sector, alive, n_codes, counts):
    # four partial counts, row i into lane i % 4 (consecutive rows, often of one sector, do not
    # wait for each other's increment), with unsigned indices (no wrap-around of negative
    # ones), then added: 81 -> 35 us at scale 0.1; into counts, made by the caller (numba boxes
    # no returned array: ≈ 1-2 µs less a call)
    width = n_codes + 2
    lanes = np.zeros(4 * width, dtype=np.int64)
    spare, w = np.uint64(n_codes + 1), np.uint64(width)
    for i in range(sector.shape[0]):
        lanes[np.uint64(i & 3) * w + (np.uint64(sector[i] + 1) if alive[i] else spare)] += 1
    for c in range(n_codes + 1):
        counts[c] = lanes[c] + lanes[width + c] + lanes[2 * width + c] + lanes[3 * width + c]
    return 0


def counts_by_sector(sector: np.ndarray, alive: np.ndarray, n_codes: int) -> np.ndarray:
    """Living persons by ``sector + 1`` (codes −1 … n_codes − 1), shape (n_codes + 1,) of int64."""
    counts = np.empty(n_codes + 1, dtype=np.int64)
    _sector_jit(sector, alive, n_codes, counts)
    return counts


def _away_loop(loc, hh, village, alive, home, n_villages):
    # first the rows to count (branch-free), then the gathers and scatter-adds for them only:
    # 1.35 ms against 1.8 ms for one loop with a branch, 1.9 ms with a spare cell (full scale)
    counts = np.zeros(4 * n_villages, dtype=np.int64)
    rows = np.empty(hh.shape[0], dtype=np.int64)
    k = 0
    for i in range(hh.shape[0]):
        rows[k] = i
        k += alive[i] & (loc[i] != home)
    for j in range(k):  # unsigned indices: no wrap-around of negative ones (0.14 -> 0.11 ms at scale 0.1)
        i = np.uint64(rows[j])
        counts[np.uint64(village[np.uint64(hh[i])]) * np.uint64(4) + np.uint64(loc[i])] += 1
    return counts


def counts_away_by_village(loc: np.ndarray, hh: np.ndarray, village: np.ndarray,
                           alive: np.ndarray, home: int, n_villages: int) -> np.ndarray:
    """Living persons not at location ``home`` by ``village of the household × 4 + location``,
    shape (4 · n_villages,) of int64."""
    return _away_jit(loc, hh, village, alive, home, n_villages)


_presence_jit = _jit(_presence_loop)
_place_age_jit = _jit(_place_age_loop)
_sector_jit = _jit(_sector_loop)
_away_jit = _jit(_away_loop)
