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
probability ``frac(w s)`` by systematic sampling (its own random generator), so every expected
total is the re-weighted total at any scale and the realised totals are close to it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from urban_sim.errors import DataError
from urban_sim.population.kernels import _jit
from urban_sim.population.vital_kernels import uniforms


def state_files(data_dir: str | Path, year: int) -> tuple[Path, Path]:
    """Paths of the start state of ``year`` in a data folder: (``.npz``, ``.json``)."""
    folder = Path(data_dir)
    return folder / f"start_{year}.npz", folder / f"start_{year}.json"


def has_start_state(data_dir: str | Path, year: int) -> bool:
    """Whether the data folder ships a start state for ``year``."""
    return state_files(data_dir, year)[0].is_file()


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
    """Raise :class:`DataError` if the state belongs to another set of places."""
    npz = state_files(data_dir, year)[0]
    tw_max = int(households["township"].max(initial=-1))
    v_max = int(households["village"].max(initial=-1))
    if tw_max >= n_townships or v_max >= n_villages:
        raise DataError(
            f"{npz}: the start state has township ids up to {tw_max} and village ids up to "
            f"{v_max}, but the data has {n_townships} townships and {n_villages} villages; "
            "regenerate it (`python -m urban_sim.calibration.start_state`) or delete it to "
            "build the start population from the census")


def household_strata(persons: dict, n_households: int) -> np.ndarray:
    """Stratum rank of each household (0, 1, ...) by resident urban and rural members and size."""
    hh = persons["hh"].astype(np.int64)
    loc = persons.get("loc", np.zeros(len(hh)))
    key = np.column_stack([
        np.bincount(hh, weights=(loc == 1) | (loc == 2), minlength=n_households),
        np.bincount(hh, weights=loc == 0, minlength=n_households),
        np.bincount(hh, minlength=n_households)])
    return np.unique(key, axis=0, return_inverse=True)[1].ravel().astype(float)


def household_members(hh: np.ndarray, n_households: int) -> tuple[np.ndarray, np.ndarray]:
    """Members of each household: rows ``members[ptr[h]:ptr[h + 1]]`` of household ``h``
    (ascending); ``ptr`` shape (n_households + 1,), ``members`` shape (n_persons,)."""
    members = np.argsort(hh, kind="stable")
    ptr = np.zeros(n_households + 1, dtype=np.int64)
    np.cumsum(np.bincount(hh, minlength=n_households), out=ptr[1:])
    return ptr, members


def draw_start_population(persons: dict, households: dict, weight: np.ndarray, scale: float,
                          rng: np.random.Generator, strata: np.ndarray | None = None,
                          members: tuple[np.ndarray, np.ndarray] | None = None
                          ) -> tuple[dict, dict]:
    """Household copies for a model at ``scale`` (integerised weights, see module notes).

    Parameters
    ----------
    persons, households : dict[str, numpy.ndarray]
        Full-scale columns as read by :func:`read_start_state`.
    weight : numpy.ndarray, shape (n_households,)
        Calibration weights (≥ 0).
    scale : float
        In (0, 1]; each agent stands for ``1/scale`` persons.
    rng : numpy.random.Generator
    strata : numpy.ndarray, optional
        :func:`household_strata` (computed when not given).
    members : (numpy.ndarray, numpy.ndarray), optional
        :func:`household_members` (computed when not given).

    Returns
    -------
    persons, households : dict[str, numpy.ndarray]
        New columns; copies of one household are separate households with the same state.
    """
    ws = np.asarray(weight, float) * scale
    # systematic sampling along households ordered by stratum (urban and rural residents, size)
    # and at random within it: every household gets floor(w s) or one more copy, and the totals
    # of each stratum are exact up to one household
    if strata is None:
        strata = household_strata(persons, len(ws))
    order = _order(strata + uniforms(rng, len(ws)))  # rng.random(n); distinct keys: one order
    copies = _copies(ws, order, rng.random())
    first_h = np.cumsum(copies) - copies            # first new index of each household's copies
    h_src = np.repeat(np.arange(len(ws)), copies)
    h_new = {k: v.take(h_src) for k, v in households.items()}
    hh = persons["hh"]
    mother = persons.get("mother", np.full(len(hh), -1, np.int32))
    if members is None:
        members = household_members(hh, len(ws))
    src, new_hh, new_mother = _copy_persons(copies, first_h, hh, mother, *members)
    p_new = {key: v.take(src) for key, v in persons.items()}
    p_new["hh"] = new_hh.astype(hh.dtype)
    if "mother" in persons:
        p_new["mother"] = new_mother.astype(persons["mother"].dtype)
    if "sector" in p_new:
        p_new["sector"][:] = -1
    return p_new, h_new


def _radix_loop(bits):
    # stable LSD radix sort on the four 16-bit digits (keys carried along, so every pass reads
    # them in order): the order of np.argsort(kind="stable")
    n = bits.shape[0]
    order, spare = np.arange(n), np.empty(n, dtype=np.int64)
    keys, spare_keys = bits.copy(), np.empty_like(bits)
    count = np.empty(65537, dtype=np.int64)
    for shift in (0, 16, 32, 48):
        count[:] = 0
        for i in range(n):
            count[((keys[i] >> shift) & 0xFFFF) + 1] += 1
        for d in range(65536):
            count[d + 1] += count[d]
        for i in range(n):
            d = (keys[i] >> shift) & 0xFFFF
            spare[count[d]] = order[i]
            spare_keys[count[d]] = keys[i]
            count[d] += 1
        order, spare = spare, order
        keys, spare_keys = spare_keys, keys
    return order


def _order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key)`` of non-negative float keys in linear time: a stable radix sort on the
    four 16-bit digits of the keys' bits (their order for keys ≥ 0; compiled). With distinct
    keys the order is unique, so both agree; keys that tie fall back to ``np.argsort``."""
    order = _radix_jit(key.view(np.uint64))
    s = key.take(order)
    if (key < 0).any() or (s[1:] == s[:-1]).any():
        return np.argsort(key)
    return order


def _copies_loop(ws, order, u):
    # copies of household order[i]: floor(cum_i + u) − floor(cum_i − w + u), cum the running
    # sum of the weights in that order (the same additions as np.cumsum)
    copies = np.empty(ws.shape[0], dtype=np.int64)
    cum = 0.0
    for i in range(order.shape[0]):
        h = order[i]
        w = ws[h]
        cum += w
        copies[h] = np.int64(np.floor(cum + u)) - np.int64(np.floor(cum - w + u))
    return copies


def _copy_persons_loop(copies, first_h, hh, mother, ptr, members):
    # every member of a household with c copies, c times in row order (copy j in household
    # first_h + j); a mother in the same household maps to her own copy j, otherwise −1.
    # The members of household h are members[ptr[h]:ptr[h + 1]]: only households with a copy
    # are visited (at small scales most have none)
    picked = np.zeros(hh.shape[0], dtype=np.bool_)
    n_sel = 0
    for h in range(copies.shape[0]):
        if copies[h] > 0:
            for j in range(ptr[h], ptr[h + 1]):
                picked[members[j]] = True
            n_sel += ptr[h + 1] - ptr[h]
    sel = np.empty(n_sel, dtype=np.int64)  # in row order
    k = 0
    for i in range(hh.shape[0]):
        if picked[i]:
            sel[k] = i
            k += 1
    total = 0
    for i in sel:
        total += copies[hh[i]]
    src = np.empty(total, dtype=np.int64)
    new_hh = np.empty(total, dtype=np.int64)
    first_p = np.empty(hh.shape[0], dtype=np.int64)  # written for the selected rows only
    k = 0
    for i in sel:
        first_p[i] = k
        h = hh[i]
        for j in range(copies[h]):
            src[k] = i
            new_hh[k] = first_h[h] + j
            k += 1
    new_mother = np.empty(total, dtype=np.int64)
    for t in range(total):
        i = src[t]
        m = mother[i]
        if m >= 0 and hh[m] == hh[i]:
            new_mother[t] = first_p[m] + new_hh[t] - first_h[hh[i]]
        else:
            new_mother[t] = -1
    return src, new_hh, new_mother


_radix_jit = _jit(_radix_loop)
_copies = _jit(_copies_loop)
_copy_persons = _jit(_copy_persons_loop)


def start_population(data_dir: str | Path, year: int, scale: float, n_townships: int,
                     n_villages: int, rng: np.random.Generator) -> tuple[dict, dict, dict]:
    """Person and household columns of the shipped start state of ``year`` at ``scale``, and
    the state of places and programmes (full scale).

    Raises
    ------
    DataError
        Unreadable file, or a state made for other places (see :func:`check_against`).
    """
    persons, households, weight, places, _ = read_start_state(data_dir, year)
    check_against(data_dir, year, n_townships, n_villages, households)
    npz = state_files(data_dir, year)[0]
    strata, members = _strata(str(npz), npz.stat().st_mtime_ns, len(weight))
    return (*draw_start_population(persons, households, weight, scale, rng, strata, members),
            places)


_STRATA: dict[tuple[str, int], tuple] = {}


def _strata(path: str, mtime_ns: int, n: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Strata and members of the households of a start-state file (once per process)."""
    key = (path, mtime_ns)
    if key not in _STRATA:
        persons = read_start_state(Path(path).parent, int(Path(path).stem.split("_")[1]))[0]
        _STRATA.clear()
        _STRATA[key] = household_strata(persons, n), household_members(persons["hh"], n)
    return _STRATA[key]
