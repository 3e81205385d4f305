"""Relocation out of hazard and remote villages (plan task 9: 异地避险安置, 易地搬迁安置点).

The plan (临政办发〔2024〕37号, task 9) gives priority to moving residents of areas with major
geological-hazard risk (重大地质灾害隐患地区居民实施异地避险安置) and asks that large
relocation sites be merged into nearby towns. In the model relocation is a programme
(``relocation`` in ``programmes.csv``, stock ``relocated_households``): each household place it
completes moves one whole village household to the county seat (share ``share_county_seat``)
or to its own township's town centre (the county seat when the township has no designated
town), together with a resettlement dwelling built by the programme. Households are drawn
from those based in a village with probability proportional to the village's distance to the
county seat raised to ``remoteness_exponent`` (remote villages stand for hazard villages: no
hazard map was found). Their homestead is withdrawn (拆旧复垦); contracted farmland stays.
The programme stops when ``eligible_households`` have been moved.

Inputs: ``relocation.csv`` (``item, year, value, unit, low, high, source, status, note``),
optional: without it relocation is off.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.data.sources import check_sources
from urban_sim.data.tables import read_csv
from urban_sim.errors import DataError
from urban_sim.files import file_stat
from urban_sim.population.kernels import _jit
from urban_sim.population.state import LOC_SEAT, LOC_TOWN, LOC_VILLAGE

ITEMS = ("eligible_households", "share_county_seat", "remoteness_exponent")
STOCK = "relocated_households"


def read_items(data_dir: Path, name: str, items: tuple[str, ...], year: int) -> dict[str, float] | None:
    """Items of an optional ``item, year, value`` table for the latest year ≤ ``year`` (or the
    earliest year); None when the file is absent.

    Raises
    ------
    DataError
        Missing columns or items, or a source naming a file outside the repository.
    """
    st = file_stat(os.path.join(data_dir, name + ".csv"))
    if st is None:
        return None
    key = (os.path.join(data_dir, name + ".csv"), st.st_mtime_ns, st.st_size, items, year)
    if key not in _ITEMS:  # read once per process while the file is unchanged
        if len(_ITEMS) > 64:
            _ITEMS.clear()
        _ITEMS[key] = _read_items(Path(key[0]), items, year)
    return dict(_ITEMS[key])


_ITEMS: dict[tuple, dict[str, float]] = {}


def _read_items(path: Path, items: tuple[str, ...], year: int) -> dict[str, float]:
    t = read_csv(path)
    missing = [c for c in ("item", "year", "value", "unit", "source", "status") if c not in t.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    check_sources(t, path, path.parent)
    out = {}
    for item in items:
        rows = t[t["item"] == item]
        if rows.empty:
            raise DataError(f"{path}: no row for item {item!r} (needed: {', '.join(items)})")
        years = rows["year"].astype(int)
        pick = rows[years <= year] if (years <= year).any() else rows[years == years.min()]
        out[item] = float(pd.to_numeric(pick.sort_values("year")["value"]).iloc[-1])
    return out


class Relocation:
    """Relocation of village households (see module docstring).

    Parameters
    ----------
    data_dir : Path
        County data folder (``relocation.csv``).
    start_year : int
        First simulated year (table values of the latest year ≤ it).
    """

    def __init__(self, data_dir: Path, start_year: int) -> None:
        self.items = read_items(data_dir, "relocation", ITEMS, start_year)
        self.persons = self.households = 0.0
        self._remote: np.ndarray | None = None  # distance to the seat ** exponent, by village
        self._seat_km: np.ndarray | None = None  # the distances _remote was computed from
        self._town: np.ndarray | None = None  # township has a designated town

    @property
    def active(self) -> bool:
        return self.items is not None

    def sites(self, others: dict[str, float] | None = None) -> dict[str, float]:
        """``others`` plus the cap of the ``relocated_households`` stock (households eligible)."""
        return {**(others or {}), STOCK: self.items["eligible_households"] if self.active else 0.0}

    def move(self, model, households: float) -> None:
        """Move ``households`` (full-population scale) village households this year.

        Writes persons' ``loc``, households' ``base``, ``years_at_base`` and
        ``homestead_withdrawn``; adds resettlement dwellings to ``model.housing``; adds to the
        model's move flows. Draws from ``model.rng`` only when something moves. Households at
        their village are read from ``model.presence``, the flags of the last tally: nothing
        moves between the tally (end of last year) and investment (tested).
        """
        self.persons = self.households = 0.0
        if not self.active or households <= 0:
            return
        P, H, rng, w = model.persons, model.households, model.rng, model.weight
        x = households / w
        k = int(x) + int(rng.random() < x - int(x))
        if model.presence.shape != (len(H), 4):  # the compiled pass reads it unchecked
            raise ValueError(f"presence flags of shape {model.presence.shape} for {len(H)} households")
        if k == 0:  # nothing more to draw, no candidates needed (most years at small scales)
            return
        if self._seat_km is not model.v_dist_seat:  # the model's villages (read-only arrays)
            self._seat_km = model.v_dist_seat
            self._remote = model.v_dist_seat ** self.items["remoteness_exponent"]
            self._town = model.kind == "town"  # by township
        cand, p = _candidates(model.presence, H.base, H.village, self._remote, LOC_VILLAGE)
        if len(cand) == 0:
            return
        chosen = cand.take(weighted_sample(rng, p / p.sum(), min(k, len(cand))))
        n_moved, n_seat = _relocate(chosen, rng.random(len(chosen)), self.items["share_county_seat"],
                                    self._town, H.township, P.hh, P.alive, P.loc, H.base,
                                    H.years_at_base, H.homestead_withdrawn, model.housing, w,
                                    LOC_VILLAGE, LOC_SEAT, LOC_TOWN)
        n_seat *= w
        f = model.flows
        f["moves_village_to_seat"] = f.get("moves_village_to_seat", 0.0) + n_seat
        f["moves_village_to_town"] = f.get("moves_village_to_town", 0.0) + n_moved * w - n_seat
        f["new_county_seat_residents"] = f.get("new_county_seat_residents", 0.0) + n_seat
        self.persons, self.households = n_moved * w, len(chosen) * w

    def outputs(self) -> dict[str, float]:
        """This year's ``relocated_persons`` and ``relocated_households`` (flows)."""
        return {"relocated_persons": self.persons, "relocated_households": self.households}


def _candidates_loop(presence, base, village, remote, home):
    # households based at ``home`` with a member there (presence flags of the last tally), in
    # row order, and the remoteness weight of each one's village
    cand = np.empty(base.shape[0], dtype=np.intp)
    k = 0
    for h in range(base.shape[0]):
        cand[k] = h
        k += presence[h, home] & (base[h] == home)
    cand = cand[:k]
    p = np.empty(k)
    for j in range(k):
        p[j] = remote[village[cand[j]]]
    return cand, p


_candidates = _jit(_candidates_loop)


def _relocate_loop(chosen, u, share_seat, town, township, hh, alive, loc, base, years_at_base,
                   withdrawn, housing, w, home, seat, town_centre):
    # each chosen household goes to the county seat if u < share_seat or its township has no
    # designated town, else to its town centre: its base, years at base and homestead flag are
    # written, a dwelling is added at the destination (the seat's first, then the towns' in the
    # order chosen), and its living members at ``home`` move; returns the persons moved and
    # those of them who moved to the seat. Few households move, so the branch on ``to`` in the
    # pass over the persons is predictable.
    to = np.full(base.shape[0], -1, dtype=np.int8)
    n_seat = 0
    for j in range(chosen.shape[0]):
        h = chosen[j]
        to_seat = u[j] < share_seat or not town[township[h]]
        to[h] = seat if to_seat else town_centre
        n_seat += to_seat
    housing[0] += n_seat * w
    for j in range(chosen.shape[0]):
        h = chosen[j]
        if to[h] != seat:
            housing[township[h]] += w
        base[h] = to[h]
        years_at_base[h] = 0
        withdrawn[h] = True
    moved = moved_seat = 0
    for i in range(hh.shape[0]):
        d = to[hh[i]]
        if d >= 0 and alive[i] and loc[i] == home:
            loc[i] = d
            moved += 1
            moved_seat += d == seat
    return moved, moved_seat


_relocate = _jit(_relocate_loop)


def _sample_round_loop(p, x, found, n_uniq, taken):
    # one round of NumPy's Generator.choice(n, size, replace=False, p=p) with the round's
    # uniforms ``x``: the weights of those found count as zero (``taken``; NumPy zeroes them in
    # its copy of p: adding 0.0 leaves the sum as it was), cumulative sum divided by its last
    # value, search (right side), keep new indices in order of first occurrence; returns the
    # number found. The division is made only where the search reads (a division by the same
    # positive value keeps the order, so the search finds what it finds in NumPy's divided
    # array)
    n = p.shape[0]
    for j in range(n_uniq):
        taken[found[j]] = True
    cdf = np.empty(n)
    c = 0.0
    for i in range(n):
        c += 0.0 if taken[i] else p[i]
        cdf[i] = c
    last = cdf[n - 1]
    seen = np.zeros(n + 1, dtype=np.bool_)
    for j in range(x.shape[0]):
        lo, hi = 0, n  # the first position whose cdf / last exceeds x[j]
        while lo < hi:
            mid = (lo + hi) >> 1
            if cdf[mid] / last <= x[j]:
                lo = mid + 1
            else:
                hi = mid
        if not seen[lo]:
            seen[lo] = True
            found[n_uniq] = lo
            n_uniq += 1
    return n_uniq


_sample_round = _jit(_sample_round_loop)


_SUM_TOLERANCE = float(np.sqrt(np.finfo(np.float64).eps))  # NumPy's, for p summing to 1


def _weights_check_loop(p):
    # np.isfinite(p).all(), (p < 0).any() and np.count_nonzero(p > 0) in one pass
    finite, negative, positive = True, False, 0
    for i in range(p.shape[0]):
        x = p[i]
        finite &= x - x == 0.0  # False for inf and NaN
        negative |= x < 0.0
        positive += x > 0.0
    return finite, negative, positive


_weights_check = _jit(_weights_check_loop)


def weighted_sample(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """``rng.choice(len(p), size, replace=False, p=p)``: the same indices and the same draws
    from ``rng`` (NumPy's algorithm, compiled; tested against it), shape (size,) of int64.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws ``size − (indices found)`` uniforms a round until ``size`` distinct indices are found.
    p : numpy.ndarray of float, shape (n,)
        Selection weights, ≥ 0, summing to 1.
    size : int
        Number of distinct indices, ≤ the number of positive weights.

    Raises
    ------
    ValueError
        As NumPy: weights not finite, negative or not summing to 1 (within √eps), or fewer than
        ``size`` positive weights.
    """
    p = np.ascontiguousarray(p, dtype=float)
    finite, negative, positive = _weights_check(p)  # one pass for NumPy's three checks
    if not finite:
        raise ValueError("probabilities are not finite")
    if negative:
        raise ValueError("probabilities are not non-negative")
    if abs(p.sum() - 1.0) > _SUM_TOLERANCE:
        raise ValueError("probabilities do not sum to 1")
    if positive < size:
        raise ValueError("Fewer non-zero entries in p than size")
    found = np.empty(size, dtype=np.int64)
    taken = np.zeros(len(p), dtype=bool)  # those found: their weights count as zero
    n_uniq = 0
    while n_uniq < size:  # NumPy's rounds: a uniform for each index still missing
        n_uniq = _sample_round(p, rng.random(size - n_uniq), found, n_uniq, taken)
    return found
