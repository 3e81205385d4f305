"""Start state of a projection: the simulated population of an earlier run, re-weighted.

A projection that starts in a census year after the county's first census (Lin County: 2020)
does not build a fresh synthetic population from census totals and proxy age structures. It
starts from the state that the calibrated model itself reached in that year when started from
the first census (2010 → 2020), re-weighted to the census totals of the start year, so that
a run from 2010 and a run from 2020 tell one history (issue 10, item 1).

The state is package data, ``data/<county>/start_<year>.npz`` with its provenance in
``start_<year>.json`` (status ``derived``), written by :mod:`urban_sim.calibration.start_state`:

- ``p_<column>``: every person column of :class:`~urban_sim.population.state.Table` for the
  persons alive in the start year (``mother`` re-indexed, −1 when not in the file);
- ``h_<column>``: every household column, households with a living member only;
- ``m_<name>``: the state of places and programmes (:mod:`urban_sim.model.start`);
- ``h_weight``: the household's calibration weight (float). Raking (exponential-tilting)
  weights make the weighted resident urban and rural persons equal the census urban and rural
  totals of the start year; everything else (age, sex, registered population outside, household
  ties, hukou, land, training) is the simulated state.

A model at ``scale`` ``s`` draws ``floor(w s)`` copies of each household plus one more with
probability ``frac(w s)`` by stratified systematic sampling (the model's random generator), so
every expected total is the re-weighted total at any scale and the realised totals are close to
it; the draw's cost grows with the sample, not with the file (:func:`draw_start_population`).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

from urban_sim.errors import DataError
from urban_sim.population.kernels import _jit
from urban_sim.population.vital_kernels import MAX_AGE, uniforms
from urban_sim.vocabulary import LOC_OUTSIDE, SECTORS


_NPZ = "start_{year}.npz"
"""Name of a start-state file (:func:`state_files`)."""

def state_files(data_dir: str | Path, year: int) -> tuple[Path, Path]:
    """Paths of the start state of ``year`` in a data folder: (``.npz``, ``.json``)."""
    folder = Path(data_dir)
    return folder / _NPZ.format(year=year), folder / f"start_{year}.json"


def has_start_state(data_dir: str | Path, year: int) -> bool:
    """Whether the data folder ships a start state for ``year``."""
    return os.path.isfile(os.path.join(data_dir, _NPZ.format(year=year)))  # state_files[0]


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def read_start_state(data_dir: str | Path, year: int
                     ) -> tuple[dict, dict, np.ndarray, dict, dict]:
    """Read a start state (cached per process while the file is unchanged).

    Returns
    -------
    persons, households : dict[str, numpy.ndarray]
        Full-scale columns; ``persons['hh']`` indexes ``households``.
    weight : numpy.ndarray of float, shape (n_households,)
    places : dict[str, numpy.ndarray]
        The ``m_`` arrays (state of places and programmes).
    meta : dict
        Provenance (``start_<year>.json``); empty if that file is missing.

    Raises
    ------
    DataError
        If the file cannot be read or lacks a column.
    """
    npz, js = state_files(data_dir, year)
    try:
        arrays = _read(str(npz), npz.stat().st_mtime_ns)
    except (OSError, ValueError) as exc:
        raise DataError(f"{npz}: cannot read the start state ({exc}); regenerate it with "
                        f"`python -m urban_sim.calibration.start_state`") from None
    persons = {k[2:]: v for k, v in arrays.items() if k.startswith("p_")}
    households = {k[2:]: v for k, v in arrays.items() if k.startswith("h_") and k != "h_weight"}
    for need, cols in (("hh", persons), ("township", households), ("village", households)):
        if need not in cols:
            raise DataError(f"{npz}: column {need!r} missing; regenerate the start state")
    if "h_weight" not in arrays:
        raise DataError(f"{npz}: column 'h_weight' missing; regenerate the start state")
    meta = json.loads(js.read_text(encoding="utf-8")) if js.is_file() else {}
    places = {k: v for k, v in arrays.items() if k.startswith("m_")}
    return persons, households, arrays["h_weight"], places, meta


def check_against(data_dir: str | Path, year: int, n_townships: int, n_villages: int,
                  households: dict) -> None:
    """Raise :class:`DataError` if the state belongs to another set of places.

    Parameters
    ----------
    data_dir, year
        The start state's folder and year (for the message).
    n_townships, n_villages : int
        Places of the county's data.
    households : dict[str, numpy.ndarray]
        Household columns with ``township`` and ``village`` ids (their maxima are compared).
    """
    tw_max = int(households["township"].max(initial=-1))
    v_max = int(households["village"].max(initial=-1))
    if tw_max >= n_townships or v_max >= n_villages:
        npz = state_files(data_dir, year)[0]
        raise DataError(
            f"{npz}: the start state has township ids up to {tw_max} and village ids up to "
            f"{v_max}, but the data has {n_townships} townships and {n_villages} villages; "
            "regenerate it (`python -m urban_sim.calibration.start_state`) or delete it to "
            "build the start population from the census")


def household_strata(persons: dict, weight: np.ndarray) -> np.ndarray:
    """Stratum rank of each household (0, 1, ...): households with the same weight, resident
    urban and rural members and size share a stratum.

    Parameters
    ----------
    persons : dict[str, numpy.ndarray]
        Full-scale person columns; ``hh`` (household index) and ``loc`` (location code) are read.
    weight : numpy.ndarray, shape (n_households,)
        Calibration weights; equal within a stratum by construction (raking weights depend only
        on a household's urban and rural residents, so they add few strata).

    Returns
    -------
    numpy.ndarray of int64, shape (n_households,)
    """
    weight = np.asarray(weight, float)
    n = len(weight)
    hh = persons["hh"].astype(np.int64)
    loc = persons.get("loc", np.zeros(len(hh)))
    # ranks in the order of urban residents, rural residents, size, then weight: the strata of
    # the first three alone are runs of strata, so their totals are exact up to one household too
    key = np.column_stack([
        np.bincount(hh, weights=(loc == 1) | (loc == 2), minlength=n),
        np.bincount(hh, weights=loc == 0, minlength=n),
        np.bincount(hh, minlength=n),
        weight])
    return np.unique(key, axis=0, return_inverse=True)[1].ravel().astype(np.int64)


def household_members(persons: dict, n_households: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members of each household and their mothers' places among them.

    Parameters
    ----------
    persons : dict[str, numpy.ndarray]
        Person columns; ``hh`` (household index) and, if present, ``mother`` (row or −1).
    n_households : int
        Number of households (``hh`` indexes them).

    Returns
    -------
    ptr : numpy.ndarray of int64, shape (n_households + 1,)
    members : numpy.ndarray of int64, shape (n_persons,)
        Rows of household ``h``: ``members[ptr[h]:ptr[h + 1]]`` (ascending).
    mother_rank : numpy.ndarray of int16, shape (n_persons,)
        For ``members[j]``: the position of its mother among its household's members (0 for
        the first), −1 when she is not one of them (or ``persons`` has no ``mother``).
    """
    hh = persons["hh"].astype(np.int64)
    members = np.argsort(hh, kind="stable")
    ptr = np.zeros(n_households + 1, dtype=np.int64)
    np.cumsum(np.bincount(hh, minlength=n_households), out=ptr[1:])
    rank = np.full(len(hh), -1, dtype=np.int16)  # small: read once per drawn household
    if "mother" in persons:
        pos = np.empty(len(hh), dtype=np.int64)
        pos[members] = np.arange(len(hh))
        h_of = hh.take(members)
        m = persons["mother"].take(members).astype(np.int64)
        ok = (m >= 0) & (hh.take(np.maximum(m, 0)) == h_of)
        rank[ok] = pos.take(m[ok]) - ptr.take(h_of[ok])
    return ptr, members, rank


def draw_start_population(persons: dict, households: dict, weight: np.ndarray, scale: float,
                          rng: np.random.Generator,
                          groups: tuple[np.ndarray, np.ndarray] | None = None,
                          members: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None
                          ) -> tuple[dict, dict]:
    """Household copies for a model at ``scale``: stratified systematic sampling of the
    integerised weights, at a cost that grows with the sample, not with the file.

    Every household gets ``floor(w s)`` copies; stratum ``k`` (``n_k`` households of one
    weight ``w_k``, see :func:`household_strata`) gets ``e_k = floor(F_k + u) − floor(F_{k−1} + u)``
    extra copies, ``F_k`` the running total of the fractional parts ``n_k frac(w_k s)`` over the
    strata and ``u`` one uniform draw (the same counts as running totals of ``n_k w_k s``, whose
    integer parts are exact, but no extra copy by rounding where ``w s`` is whole); they go to
    ``e_k`` of its households drawn at random without replacement (Floyd's algorithm). This is systematic sampling along households in a
    random order within strata (the design before; same distribution, other draws): every
    household's expected number of copies is ``w s``, and every stratum's total is exact up to
    one household.

    Parameters
    ----------
    persons, households : dict[str, numpy.ndarray]
        Full-scale columns as read by :func:`read_start_state`.
    weight : numpy.ndarray, shape (n_households,)
        Calibration weights (≥ 0), equal within each stratum.
    scale : float
        In (0, 1]; each agent stands for ``1/scale`` persons.
    rng : numpy.random.Generator
        Draws ``u`` and then one uniform per extra copy.
    groups : (numpy.ndarray, numpy.ndarray), optional
        :func:`household_groups` of these persons and weights (computed when not given).
    members : (numpy.ndarray, numpy.ndarray or None, numpy.ndarray), optional
        :func:`household_members` (computed when not given); with ``None`` in the middle the
        persons are already in household order (``members`` would be ``arange``).

    Returns
    -------
    persons, households : dict[str, numpy.ndarray]
        New columns. Households in ascending order of the file's households, copies of one
        household next to each other (separate households with the same state); persons
        ordered by their new household, members in the file's row order.

    Raises
    ------
    ValueError
        From :func:`household_groups`: negative weights.
    """
    ptr_s, grouped = household_groups(persons, weight) if groups is None else groups
    w_k = np.asarray(weight, float).take(grouped.take(ptr_s[:-1])) * scale  # one per stratum
    n_k = np.diff(ptr_s)
    base = np.floor(w_k)
    cum = np.cumsum(n_k * (w_k - base))  # running total of the fractional parts
    u = rng.random()
    extra = np.floor(cum + u) - np.floor(np.concatenate([[0.0], cum[:-1]]) + u)
    extra = np.clip(extra, 0, n_k).astype(np.int64)
    draws = uniforms(rng, int(extra.sum()))
    copies, sel = _stratum_copies(ptr_s, grouped, base.astype(np.int64), extra, draws, len(weight))
    ptr, rows, mother_rank = household_members(persons, len(weight)) if members is None else members
    h_src, src, new_hh, new_mother = _copy_households(sel, copies, ptr, mother_rank)
    if rows is not None:  # positions in household order -> rows of the file
        src = rows.take(src)
    h_new = {k: v.take(h_src) for k, v in households.items()}
    # columns the copy rewrites are not gathered (at small scale a gather reads a cache line of
    # the file's column per drawn household)
    p_new = {key: (new_hh.astype(v.dtype) if key == "hh"
                   else new_mother.astype(v.dtype) if key == "mother"
                   else np.full(len(src), -1, dtype=v.dtype) if key == "sector"
                   else v.take(src)) for key, v in persons.items()}
    return p_new, h_new


def household_groups(persons: dict, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strata of :func:`household_strata` as lists: households of stratum ``k`` are
    ``grouped[ptr[k]:ptr[k + 1]]`` (ascending); ``ptr`` shape (n_strata + 1,), ``grouped``
    shape (n_households,).

    Parameters
    ----------
    persons : dict[str, numpy.ndarray]
        Full-scale person columns (``hh``, ``loc``).
    weight : numpy.ndarray, shape (n_households,)
        Calibration weights.

    Raises
    ------
    ValueError
        If a weight is negative or not finite.
    """
    weight = np.asarray(weight, float)
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("start state: household weights must be finite and ≥ 0")
    strata = household_strata(persons, weight)
    grouped = np.argsort(strata, kind="stable")
    ptr = np.zeros(int(strata.max(initial=-1)) + 2, dtype=np.int64)
    np.cumsum(np.bincount(strata), out=ptr[1:])
    return ptr, grouped


def _stratum_copies_loop(ptr, grouped, base, extra, draws, n):
    # floor(w s) copies of every household; e_k more go to e_k households of stratum k drawn
    # without replacement by Floyd's algorithm (a uniform subset of size e_k from e_k draws).
    # Returns the households with a copy (ascending) and their copies. Picks are marked in a
    # bitmap by position in ``grouped``. Without a whole copy anywhere (a small sample), the
    # picked households too (from the positions, in order), then read in order:
    # cache-resident bits rather than a count per household of the file. Else counts by
    # household, then found two at a time (a zero 64-bit word of counts: neither has a copy),
    # written without a branch
    mark = np.zeros((grouped.shape[0] >> 6) + 1, dtype=np.uint64)
    whole = False
    for k in range(base.shape[0]):
        whole |= base[k] > 0
    copies = np.zeros(n + n % 2 if whole else 0, dtype=np.int32)
    picked = np.zeros(0 if whole else (n >> 6) + 1, dtype=np.uint64)
    one = np.uint64(1)
    d, n_sel = 0, 0
    for k in range(ptr.shape[0] - 1):
        lo, n_k = ptr[k], ptr[k + 1] - ptr[k]
        if base[k] > 0:
            n_sel += n_k
            for i in range(lo, lo + n_k):
                copies[grouped[i]] = base[k]
        for j in range(n_k - extra[k], n_k):
            t = np.int64(draws[d] * (j + 1))  # uniform on 0 .. j
            d += 1
            q = lo + t
            pick = lo + j if (mark[q >> 6] >> np.uint64(q & 63)) & one else q
            mark[pick >> 6] |= one << np.uint64(pick & 63)
            if whole:
                h = np.int64(grouped[pick])
                n_sel += copies[h] == 0
                copies[h] += 1
            else:
                n_sel += 1
    if not whole:
        # the picks' households, read in order of position (a pass along ``grouped`` rather
        # than a cache miss per pick in a file much larger than the sample)
        for w in range(mark.shape[0]):
            b = mark[w]
            while b:
                h = np.int64(grouped[(w << 6) + _ctz(b)])
                picked[h >> 6] |= one << np.uint64(h & 63)
                b &= b - one
    sel = np.empty(n_sel + 2, dtype=np.int64)  # the households with a copy, ascending
    n_copies = np.empty(n_sel + 2, dtype=np.int32)  # and their copies
    i = 0
    if whole:
        words = copies.view(np.uint64)
        for w in range(words.shape[0]):
            if words[w] != 0:
                for h in range(2 * w, 2 * w + 2):
                    sel[i] = h
                    n_copies[i] = copies[h]
                    i += copies[h] > 0
    else:
        for w in range(picked.shape[0]):
            b = picked[w]
            while b:
                sel[i] = (w << 6) + _ctz(b)
                n_copies[i] = 1
                b &= b - one
                i += 1
    return n_copies[:n_sel], sel[:n_sel]


_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_POS = np.array([0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36,
                          53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41,
                          37, 16, 54, 35, 52, 21, 44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10,
                          25, 14, 19, 9, 13, 8, 7, 6], dtype=np.int64)


def _ctz(b):
    # position of the lowest set bit of b (≠ 0), by a de Bruijn sequence
    return _DEBRUIJN_POS[((b & (~b + np.uint64(1))) * _DEBRUIJN) >> np.uint64(58)]


def _copy_households_loop(sel, copies, ptr, mother_rank):
    # the households sel (ascending, those with a copy; copies[i] copies of sel[i]), copy j
    # after copy j − 1, each copy's
    # members as positions in household order (household h: ptr[h] .. ptr[h + 1] − 1); a mother
    # in the same household maps to her own copy, otherwise −1. Reads ptr and mother_rank only
    # (a third array read per household cost 4× at scale 0.1: one cache miss more each)
    n_h, n_p = 0, 0
    for i in range(sel.shape[0]):
        h = sel[i]
        n_h += copies[i]
        n_p += copies[i] * (ptr[h + 1] - ptr[h])
    h_src = np.empty(n_h, dtype=np.int64)
    src = np.empty(n_p, dtype=np.int64)
    new_hh = np.empty(n_p, dtype=np.int64)
    new_mother = np.empty(n_p, dtype=np.int64)
    g, k = 0, 0
    for i in range(sel.shape[0]):
        h = sel[i]
        lo, hi = ptr[h], ptr[h + 1]
        for _ in range(copies[i]):
            h_src[g] = h
            for j in range(lo, hi):
                src[k] = j  # position in household order
                new_hh[k] = g
                r = mother_rank[j]
                new_mother[k] = k - (j - lo) + r if r >= 0 else -1
                k += 1
            g += 1
    return h_src, src, new_hh, new_mother


_ctz = _jit(_ctz)  # called from the compiled loop below
_stratum_copies = _jit(_stratum_copies_loop)
_copy_households = _jit(_copy_households_loop)


def start_population(data_dir: str | Path, year: int, scale: float, n_townships: int,
                     n_villages: int, rng: np.random.Generator) -> tuple[dict, dict, dict]:
    """Person and household columns of the shipped start state of ``year`` at ``scale``, and
    the state of places and programmes (full scale).

    Raises
    ------
    DataError
        Unreadable file, or a state made for other places (see :func:`check_against`).
    """
    npz = os.path.join(data_dir, _NPZ.format(year=year))  # state_files[0], as a string
    try:
        mtime = os.stat(npz).st_mtime_ns
    except OSError:
        mtime = -1  # not cached: read_start_state raises the DataError
    persons, households, weight, places, groups, members, largest = _prepared(npz, mtime)
    check_against(data_dir, year, n_townships, n_villages, largest)
    return (*draw_start_population(persons, households, weight, scale, rng, groups, members),
            places)


_PREPARED: dict[tuple[str, int], tuple] = {}


def _prepared(path: str, mtime_ns: int) -> tuple[dict, dict, np.ndarray, dict, tuple, tuple, dict]:
    """The persons of a start-state file in household order (so a draw's gathers read rows
    next to each other; same values drawn), the households, weights and ``m_`` arrays of
    :func:`read_start_state`, the persons' strata (:func:`household_groups`), members
    (:func:`household_members`) and the largest township and village ids (for
    :func:`check_against`); once per process, shared read-only.

    Raises
    ------
    DataError
        A weight that is negative or not finite, or a code out of range (:func:`check_ranges`).
    """
    key = (path, mtime_ns)
    if key not in _PREPARED:
        persons, households, weight, places, _ = read_start_state(
            Path(path).parent, int(Path(path).stem.split("_")[1]))
        bad = np.flatnonzero(~(np.isfinite(weight) & (weight >= 0)))
        if len(bad):
            raise DataError(f"{path}: column 'h_weight' is {weight[bad[0]]} for household "
                            f"{bad[0]}; weights must be finite and ≥ 0 (regenerate the start "
                            "state: `python -m urban_sim.calibration.start_state`)")
        check_ranges(path, persons, households)
        ptr, members, rank = household_members(persons, len(weight))
        ordered = {k: v.take(members) for k, v in persons.items()}
        _PREPARED.clear()
        largest = {k: households[k].max(initial=-1, keepdims=True) for k in ("township", "village")}
        ptr_s, grouped = household_groups(persons, weight)
        # the draw reads these at random (one cache line per drawn household): in the smallest
        # integer type that holds them, the same values
        _PREPARED[key] = (ordered, households, weight, places, (ptr_s, _narrow(grouped)),
                          (_narrow(ptr), None, _narrow(rank)), largest)
    return _PREPARED[key]


def check_ranges(path: str, persons: dict, households: dict) -> None:
    """Raise :class:`DataError` for a code or index of a start-state file out of its range.

    The compiled kernels index arrays with these values unchecked (unsigned, so a negative one
    would read or write outside an array instead of wrapping around): checked once per file.

    Parameters
    ----------
    path : str
        The file (for the message).
    persons, households : dict[str, numpy.ndarray]
        Full-scale columns of :func:`read_start_state`; those present of ``hh``, ``mother``,
        ``loc``, ``age``, ``sector`` (persons), ``township``, ``village`` and ``base``
        (households; their largest ids are checked against the places by :func:`check_against`).
    """
    n_p, n_h = len(next(iter(persons.values()))), len(next(iter(households.values())))
    limits = [(persons, "hh", 0, n_h - 1), (persons, "mother", -1, n_p - 1),
              (persons, "loc", 0, LOC_OUTSIDE), (persons, "age", 0, MAX_AGE),
              (persons, "sector", -1, len(SECTORS) + 1),  # economy.labour.UNEMPLOYED
              (households, "township", 0, None), (households, "village", 0, None),
              (households, "base", 0, LOC_OUTSIDE)]
    for cols, name, lo, hi in limits:
        a = cols.get(name)
        if a is None or not a.size:
            continue
        if a.dtype.kind not in "iu":
            raise DataError(f"{path}: column {name!r} must hold integers, not {a.dtype}")
        bad = np.flatnonzero((a < lo) | (a > hi)) if hi is not None else np.flatnonzero(a < lo)
        if len(bad):
            raise DataError(f"{path}: column {name!r} is {a[bad[0]]} in row {bad[0]}, outside "
                            f"[{lo}, {'…' if hi is None else hi}]; regenerate the start state "
                            "(`python -m urban_sim.calibration.start_state`)")


def _narrow(a: np.ndarray) -> np.ndarray:
    """``a`` (integers) as int8, int32 or its own type: the first that holds all its values."""
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for t in (np.int8, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return a.astype(t) if a.dtype.itemsize > np.dtype(t).itemsize else a
    return a
