"""Compiled loop of the labour market: each working-age resident's employment and sector.

The NumPy rule made about ten passes (the masks selecting working-age residents, their place
by a gather through the place lookup table, the chance, one batch of uniforms, the sector by
five comparisons with the cumulative job shares); two compiled loops (numba, via
:func:`urban_sim.population.kernels._jit`) read each person column once: the first lists the
working-age residents, then their uniforms are drawn in one batch, the values of
``rng.random(n)`` in row order as in the NumPy rule (:func:`urban_sim.population.vital_kernels.uniforms`,
PCG64 stepped inline; a ``Generator`` passed to a compiled function costs ≈ 17 µs a call to
unbox, and numba's draws through its interface are slower than a batch), the second gives
each its employment and sector. The arithmetic is that of
the NumPy rule, operation by operation (``p · (1 + boost)`` for the trained, ``min(p, 1)``,
``u / max(p, 1e-12) · total``, comparisons), so results are bit-identical (the former rule is
the reference in ``tests/test_kernels_labour.py``).
"""

from __future__ import annotations

import numpy as np

from urban_sim.population.kernels import _jit
from urban_sim.population.state import SECTORS
from urban_sim.population.vital_kernels import uniforms

_S_CONS, _S_SERV, _S_TOUR = (SECTORS.index(s) for s in ("construction", "services", "tourism"))


def _workers_loop(sector, alive, loc, age, outside, lo, hi, mask):
    # no dependence between rows: LLVM vectorises this loop
    width = np.uint16(hi - lo)
    for i in range(alive.shape[0]):
        sector[i] = -1
        mask[i] = alive[i] & (loc[i] != outside) & (np.uint16(age[i] - lo) <= width)


def _list_workers_loop(sector, alive, loc, age, outside, lo, hi):
    # the tests first, vectorised (inside the loop below they cost 0.6 ms more at full scale),
    # then the rows of the workers listed in row order
    n = alive.shape[0]
    mask = np.empty(n, dtype=np.bool_)
    _workers_loop(sector, alive, loc, age, outside, lo, hi, mask)
    workers = np.empty(n, dtype=np.intp)
    k = 0
    for i in range(n):
        workers[k] = i
        k += mask[i]
    return workers[:k]


def _sectors_loop(sector, workers, u, loc, hh, trained, township, place_lut, K, chance, factor,
                  cum, tot, fallback):
    # every worker's employment and sector from its uniform, without a branch (branches on
    # u < p mispredict often)
    for w in range(workers.shape[0]):
        i = workers[w]
        pl = place_lut[np.int64(loc[i]) * K + township[hh[i]]]
        p = chance[pl]
        pt = p * factor
        p = pt if trained[i] else p
        p = min(p, 1.0)
        v = u[w] / max(p, 1e-12) * tot[pl]
        row = cum[pl]  # six sectors; the last comparison is clipped away
        s = (v >= row[0]) + (v >= row[1]) + (v >= row[2]) + (v >= row[3]) + (v >= row[4])
        f = fallback[pl]
        sector[i] = f + np.int64(u[w] < p) * (s - f)  # employed: s, else f (no branch)


_workers_loop = _jit(_workers_loop)  # called from the compiled loop below
_list_workers = _jit(_list_workers_loop)
_sectors = _jit(_sectors_loop)


def assign_sectors(sector: np.ndarray, alive: np.ndarray, loc: np.ndarray, age: np.ndarray,
                   hh: np.ndarray, trained: np.ndarray, township: np.ndarray,
                   place_lut: np.ndarray, K: int, outside: int, working_age: tuple[int, int],
                   chance: np.ndarray, boost: float, cum: np.ndarray, fallback: np.ndarray,
                   rng: np.random.Generator) -> None:
    """Sector of every person, written into ``sector`` (a pass over the rows, then one over
    the workers).

    A living person at a location other than ``outside`` aged within ``working_age``
    (inclusive) is a worker at place ``place_lut[loc · K + township[hh]]``; everyone else gets
    −1. A worker draws one uniform ``u`` (row order) and is employed if ``u < p``, ``p =
    min(chance[place] · (1 + boost if trained else 1), 1)``; the employed get the sector ``s``
    for which ``v = u / max(p, 1e-12) · total[place]`` falls between the cumulative jobs
    ``cum[place, s − 1]`` and ``cum[place, s]`` (``u / p`` is uniform on [0, 1) given
    employment), the others ``fallback[place]`` (farming or unemployed).

    Parameters
    ----------
    sector : numpy.ndarray of int8, shape (n,)
        Output, overwritten for every row.
    alive, loc, age, hh, trained : numpy.ndarray, shape (n,)
        Person columns.
    township : numpy.ndarray, shape (n_households,)
        Township of each household.
    place_lut : numpy.ndarray of int, shape (4 K + 1,)
        Place by ``location × K + township``.
    chance : numpy.ndarray of float, shape (n_places,)
        Employment chance by place.
    cum : numpy.ndarray of float, shape (n_places, n_sectors)
        Cumulative wage jobs by place over the sectors (``np.cumsum(jobs, axis=1)``).
    fallback : numpy.ndarray of int8, shape (n_places,)
        Code of a worker without a wage job by place.
    rng : numpy.random.Generator
        One uniform per worker in row order, as one batch ``rng.random(n_workers)``.
    """
    if cum.shape[1] != 6:
        raise ValueError(f"cum has {cum.shape[1]} sectors; the compiled loop is written for 6")
    tot = np.maximum(cum[:, -1], 1e-12)
    workers = _list_workers(sector, alive, loc, age, outside, working_age[0], working_age[1])
    _sectors(sector, workers, uniforms(rng, len(workers)), loc, hh, trained, township, place_lut, K,
             chance, 1.0 + boost, np.ascontiguousarray(cum), tot, fallback)


def _update_loop(jobs, trends, tourism_growth, direct_new, residents, construction,
                 serv_per_resident, serv_rate, induced, cons_per_resident, seekers, before, after,
                 chance):
    # LabourMarket.update's NumPy operations, element by element in the same order (each
    # element's result depends only on that row's earlier results); a row's sum as NumPy's
    # ``sum(axis=1)`` of six values: from +0.0, in order
    for p in range(jobs.shape[0]):
        b, d = 0.0, 0.0
        for s in range(jobs.shape[1]):
            b += jobs[p, s]
            d += direct_new[p, s]
        before[p] = b
        for s in range(jobs.shape[1]):
            jobs[p, s] = jobs[p, s] * (1.0 + trends[s])
        jobs[p, _S_TOUR] = jobs[p, _S_TOUR] * (1.0 + tourism_growth[p])
        for s in range(jobs.shape[1]):
            jobs[p, s] = jobs[p, s] + direct_new[p, s]
        target = serv_per_resident * residents[p]
        jobs[p, _S_SERV] = jobs[p, _S_SERV] + serv_rate * (target - jobs[p, _S_SERV])
        jobs[p, _S_SERV] = jobs[p, _S_SERV] + induced * d
        jobs[p, _S_CONS] = cons_per_resident * residents[p] + construction[p]
        a = 0.0
        for s in range(jobs.shape[1]):
            x = jobs[p, s]
            x = x if (x >= 0.0) | (x != x) else 0.0  # np.maximum(x, 0.0): NaN stays
            jobs[p, s] = x
            a += x
        after[p] = a
        if seekers.shape[0]:  # np.minimum(1.0, a / np.maximum(seekers, 1e-9)): NaN stays
            m = seekers[p]
            x = a / (m if (m >= 1e-9) | (m != m) else 1e-9)
            chance[p] = x if (x <= 1.0) | (x != x) else 1.0


_update = _jit(_update_loop)  # also called from the compiled loop below


def _year_loop(jobs, trends, qikou, tour, direct_new, residents, construction, serv_per_resident,
               serv_rate, induced, cons_per_resident, seekers, chance, cum, sums, sector, alive,
               loc, age, outside, lo, hi):
    # the NumPy calls around the two loops, element by element: np.where(qikou, tour, 0.0),
    # then _update_loop, np.cumsum(jobs, axis=1) (the first value copied, then added in
    # order) and np.maximum(cum[:, -1], 1e-12) (a NaN stays), then the workers' list
    n, s = jobs.shape
    tourism_growth = np.empty(n)
    for p in range(n):
        tourism_growth[p] = tour if qikou[p] else 0.0
    _update(jobs, trends, tourism_growth, direct_new, residents, construction, serv_per_resident,
            serv_rate, induced, cons_per_resident, seekers, sums[1], sums[2], chance)
    for p in range(n):
        c = jobs[p, 0]
        cum[p, 0] = c
        for k in range(1, s):
            c = c + jobs[p, k]
            cum[p, k] = c
        sums[0, p] = c if (c >= 1e-12) | (c != c) else 1e-12
    return _list_workers(sector, alive, loc, age, outside, lo, hi)


_year = _jit(_year_loop)


def update_and_list(jobs: np.ndarray, trends: np.ndarray, qikou: np.ndarray, tour: float,
                    direct_new: np.ndarray, residents: np.ndarray, construction: np.ndarray,
                    serv_per_resident: float, serv_rate: float, induced: float,
                    cons_per_resident: float, seekers: np.ndarray, chance: np.ndarray,
                    cum: np.ndarray, sums: np.ndarray, sector: np.ndarray, alive: np.ndarray,
                    loc: np.ndarray, age: np.ndarray, outside: int,
                    working_age: tuple[int, int]) -> np.ndarray:
    """:func:`update_jobs` with the tourism growth ``np.where(qikou, tour, 0.0)``, then the
    cumulative jobs and their totals of :func:`assign_sectors` and its list of workers, in one
    compiled call (the same operations in the same order; ``tests/test_kernels_labour.py``
    compares with :func:`update_jobs` + :func:`assign_sectors`).

    Parameters
    ----------
    jobs, trends, direct_new, residents, construction, serv_per_resident, serv_rate, induced,
    cons_per_resident, seekers, chance
        As :func:`update_jobs` (``seekers`` and ``chance`` of shape (n_places,)).
    qikou : numpy.ndarray of bool, shape (n_places,)
        Places whose tourism jobs grow by ``tour`` more.
    tour : float
        Extra growth rate of tourism jobs at the ``qikou`` places.
    cum : numpy.ndarray of float, shape (n_places, n_sectors)
        Output: ``np.cumsum(jobs, axis=1)`` after the update.
    sums : numpy.ndarray of float, shape (3, n_places)
        Output: ``np.maximum(cum[:, -1], 1e-12)``, the wage jobs before and after the update.
    sector, alive, loc, age, outside, working_age
        As :func:`assign_sectors` (``sector`` set to −1 on every row).

    Returns
    -------
    numpy.ndarray of intp
        Rows of the workers (living, not at ``outside``, of working age), ascending.
    """
    return _year(jobs, trends, qikou, tour, direct_new, residents, construction, serv_per_resident,
                 serv_rate, induced, cons_per_resident, seekers, chance, cum, sums, sector, alive,
                 loc, age, outside, working_age[0], working_age[1])


def sectors_of(sector: np.ndarray, workers: np.ndarray, u: np.ndarray, loc: np.ndarray,
               hh: np.ndarray, trained: np.ndarray, township: np.ndarray, place_lut: np.ndarray,
               K: int, chance: np.ndarray, boost: float, cum: np.ndarray, tot: np.ndarray,
               fallback: np.ndarray) -> None:
    """The second loop of :func:`assign_sectors`: each worker's employment and sector from its
    uniform ``u`` (``workers`` and ``cum``, ``tot`` of :func:`update_and_list`)."""
    _sectors(sector, workers, u, loc, hh, trained, township, place_lut, K, chance, 1.0 + boost,
             cum, tot, fallback)


def update_jobs(jobs: np.ndarray, trends: np.ndarray, tourism_growth: np.ndarray,
                direct_new: np.ndarray, residents: np.ndarray, construction: np.ndarray,
                serv_per_resident: float, serv_rate: float, induced: float,
                cons_per_resident: float, seekers: np.ndarray, before: np.ndarray,
                after: np.ndarray, chance: np.ndarray) -> None:
    """One year of the job stocks (``LabourMarket.update``), written into ``jobs``, and the
    Harris–Todaro employment chance, in one compiled pass with the NumPy rule's operations in
    its order (the rule is kept as the reference in ``tests/test_kernels_labour.py``).

    Parameters
    ----------
    jobs : numpy.ndarray of float, shape (n_places, n_sectors)
        Wage jobs, updated in place.
    trends : numpy.ndarray of float, shape (n_sectors,)
        Background growth rate per sector.
    tourism_growth : numpy.ndarray of float, shape (n_places,)
        Extra growth rate of tourism jobs.
    direct_new : numpy.ndarray of float, shape (n_places, n_sectors)
        Operating jobs of programmes completed this year.
    residents, construction : numpy.ndarray of float, shape (n_places,)
        Residents and construction jobs of projects under way.
    serv_per_resident, serv_rate, induced : float
        ``services_jobs_per_resident``, ``services_adjustment_rate``,
        ``induced_jobs_multiplier``.
    cons_per_resident : float
        ``background_construction_jobs_per_1000 / 1000``.
    seekers : numpy.ndarray of float, shape (n_places,) or (0,)
        Job seekers by place; empty: no chance computed.
    before, after : numpy.ndarray of float, shape (n_places,)
        Output: wage jobs by place before and after the update (``jobs.sum(axis=1)``).
    chance : numpy.ndarray of float, shape (n_places,) or (0,)
        Output (with seekers): ``min(1, after / max(seekers, 1e-9))``.
    """
    _update(jobs, trends, tourism_growth, direct_new, residents, construction, serv_per_resident,
            serv_rate, induced, cons_per_resident, seekers, before, after, chance)
