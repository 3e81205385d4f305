"""Tallies of the model's persons and households by place and age class (one bincount)."""

from __future__ import annotations

import math

import numpy as np

from urban_sim.population.kernels import _jit, counts_and_presence
from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE

N_AGE_CLASSES = 6
AC_PUPIL, AC_WORKING, AC_OLD = 2, 4, 5
AGE_CLASS = np.zeros(2**15, dtype=np.intp)
"""Age class of every int16 age for the tallies: 0-3, 4-5, 6-14 (pupils), 15, 16-59 (working
age), 60+."""
AGE_CLASS[4:], AGE_CLASS[6:], AGE_CLASS[15:], AGE_CLASS[16:], AGE_CLASS[60:] = 1, 2, 3, 4, 5


assert LOC_OUTSIDE == 3 and max(LOC_VILLAGE, LOC_TOWN, LOC_SEAT) < 3  # in the county: 0-2


def tally(self, counts: tuple | None = None) -> tuple:
    """Counts by place and population groups at full-population scale.

    Sets ``residents``, ``labour_force``, ``occupied``, ``n_households``, ``housing_use``,
    ``housing_total`` (``housing.sum()``, NaN before the model has dwellings),
    ``n_big_towns``, ``groups``, ``school_use``, ``old_by_place``, ``presence`` and
    ``zone_residents`` (residents of the town centres and of the village areas) on the model
    ``self`` (a :class:`urban_sim.model.CountyModel`); persons at full scale (agents × weight).
    The counts by place, the households at each place and the sums are one compiled pass
    (:func:`_by_place_loop`). ``residents``, ``labour_force``, ``occupied``, ``housing_use_all``,
    ``housing_use`` and ``old_by_place`` are the same arrays at every tally of a model (made at
    its first, :func:`_buffers`), overwritten: a copy keeps a year's values.

    Parameters
    ----------
    counts : tuple, optional
        What an earlier call returned, when no person or household changed since (the
        model's set-up tallies twice: before and after its stocks and dwellings exist); the
        passes over persons and households are then skipped.

    Returns
    -------
    tuple
        The counts of persons by place key and age class and the presence flags (for
        ``counts``).
    """
    P, H, w, K = self.persons, self.households, self.weight, self.K
    if counts is None:
        # one count of persons by (location × K + township, age class); the dead in a last row
        counts = counts_and_presence(P.loc, P.hh, H.township, P.alive, P.age, AGE_CLASS,
                                     K, N_AGE_CLASSES, len(H))
    by_key, flags = counts
    # as population.migration.presence; read by relocation at the start of next year (nothing
    # moves before)
    self.presence = flags[:-1].reshape(-1, 4)
    housing = getattr(self, "housing", None)
    p = self.params
    n_places = 2 * K + 1
    # the kernel's results into arrays of the model, made at its first tally and overwritten
    # by each (numba boxes no returned array; the views made once): rows residents, labour
    # force, households at each place, dwelling use (first 2 K entries)
    buf = self.__dict__.get("_tally_out")
    if buf is None or buf[1].shape[0] != n_places:
        buf = self._tally_out = _buffers(n_places, K)
    out, old, sums, views = buf
    self.n_big_towns, in_county = _by_place(
        by_key, self._place_lut, flags, H.township, w, K,
        housing if housing is not None else _NO_HOUSING, housing is not None,
        self.is_urban_place, p["town_sewage_min_residents"], out, old, sums)
    (self.residents, self.labour_force, self.occupied, self.housing_use_all,
     self.housing_use) = views
    self.old_by_place = old
    # Python floats: the same values, cheaper arithmetic in the indicators that read them
    (total, urban, pupils, pupils_seat, age_0_14, age_60_plus, age_0_3, registered, towns,
     villages, seat, outside, self.housing_total) = sums.tolist()
    self.zone_residents = towns, villages
    # a household split between places is one household (counted once, census definition)
    self.n_households = in_county * w
    veh = p["vehicles_per_urban_resident"] * (1 + p["vehicle_growth_rate_per_year"]) ** (self.year - 2020)
    self.groups = {
        "residents": total, "urban_residents": urban, "seat_residents": seat,
        "rural_residents": total - urban, "pupils": pupils, "pupils_seat": pupils_seat,
        "disabled_children": p["disabled_child_share"] * pupils,
        "vehicles": veh * seat, "seat_built_up_km2": seat / p["seat_density_persons_km2"],
        "n_villages": float(len(self.v_township)), "n_other_townships": float(K - 1),
        "age_0_14": age_0_14, "age_60_plus": age_60_plus, "age_0_3": age_0_3,
        "childcare_demand": (self.childcare.demand(age_0_3, self.year)
                             if self.childcare.active else math.inf),
        "registered": registered, "outside": outside,
    }
    if hasattr(self, "stocks"):
        self.groups["beds_per_1000"] = self.stocks["hospital_beds"] / max(total, 1) * 1000
        self.school_use = pupils_seat / max(self.stocks["school_seats_seat"], 1.0)
    else:
        self.groups["beds_per_1000"] = 6.0
        self.school_use = 1.0
    return counts


_NO_HOUSING = np.zeros(0)


def _buffers(n_places: int, K: int) -> tuple:
    """The arrays the tally's kernel writes (every entry, at every tally) and the model's views
    of them: ``(out, old, sums, (residents, labour_force, occupied, housing_use_all,
    housing_use))``; ``out`` of shape (4, n_places) (its last row the dwelling use), ``old``
    int64 (n_places,), ``sums`` (13,)."""
    out, old, sums = np.empty((4, n_places)), np.empty(n_places, np.int64), np.empty(13)
    residents, labour, occupied, use = out
    return out, old, sums, (residents, labour, occupied, use[:2 * K], use[:K])


def _block(a, lo, n):
    # NumPy's pairwise sum of a[lo:lo + n] for n <= 128 (numpy/_core/src/umath/loops_utils.h.src):
    # below 8 values in order from −0.0, else eight interleaved partial sums, then the rest
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


def _sum(a, lo, n):
    # NumPy's pairwise sum of a[lo:lo + n]: above 128 values the sum of the two halves (split at
    # a multiple of 8), each summed the same way; NumPy's recursion with a stack of halves (a
    # compiled function cannot call itself from a kernel cached on disk)
    if n <= 128:
        return _block(a, lo, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    left = np.empty(64)
    has_left = np.zeros(64, dtype=np.bool_)
    d = 0
    los[0], ns[0] = lo, n
    while True:
        m = ns[d]
        if m > 128:  # descend into the first half
            h = m // 2
            h -= h % 8
            los[d + 1], ns[d + 1], has_left[d + 1] = los[d], h, False
            d += 1
            continue
        v = _block(a, los[d], m)
        while True:  # hand the sum up: a first half waits for the second, a second completes
            d -= 1
            if d < 0:
                return v
            if has_left[d]:
                v = left[d] + v
                continue
            left[d], has_left[d] = v, True
            h = ns[d] // 2
            h -= h % 8
            los[d + 1], ns[d + 1], has_left[d + 1] = los[d] + h, ns[d] - h, False
            d += 1
            break


def np_sum(a):
    """``a.sum()`` of a contiguous 1-d float64 array, the same bits as NumPy's: the identity
    0.0 plus the pairwise sum (compiled: :data:`_np_sum`; the tally's kernel adds
    ``0.0 + _sum`` itself).

    Parameters
    ----------
    a : numpy.ndarray of float64, shape (n,)
        Contiguous.
    """
    return 0.0 + _sum(a, 0, a.shape[0])


_block = _jit(_block)  # called by _sum
_sum = _jit(_sum)
_np_sum = _jit(np_sum)


def _by_place_loop(by_key, lut, flags, township, w, K, housing, has_housing, is_urban,
                   min_residents, out, old, sums):
    # persons by place and age class (np.add.at of the rows of by_key at lut; the dead in the
    # last place, dropped), then at full scale (× w): residents, labour force, the old by place
    # (count), households at each place (from the presence flags: a household with a living
    # member at a location counts there once), dwelling use, and the sums of the groups and
    # zones: each as the NumPy expression it replaced (float sums pairwise as NumPy's, integer
    # sums exact); and the households with a living member in the county (locations 0-2).
    # Into out (rows residents, labour force, occupied, dwelling use: shape (4, 2 K + 1), use's
    # last entry 0), old (int64, 2 K + 1) and sums (13: the last housing.sum(), NaN without
    # housing); returns (big towns, households in the county)
    n_classes = by_key.shape[0] // lut.shape[0]
    n_places = 2 * K + 1
    by_place = np.zeros((n_places + 1, n_classes), dtype=np.int64)
    for r in range(lut.shape[0]):
        for c in range(n_classes):
            by_place[lut[r], c] += by_key[r * n_classes + c]
    residents, labour, occupied, use = out[0], out[1], out[2], out[3]
    pupils = np.empty(n_places)
    resident = np.zeros(n_classes, dtype=np.int64)  # in the county, by age class
    registered = 0
    for q in range(n_places):
        n = 0
        for c in range(n_classes):
            n += by_place[q, c]
            if q < n_places - 1:
                resident[c] += by_place[q, c]
        registered += n
        residents[q] = n * w
        labour[q] = by_place[q, AC_WORKING] * w
        pupils[q] = (by_place[q, AC_PUPIL] if q < n_places - 1 else 0) * w
        old[q] = by_place[q, AC_OLD]
    n_at = np.zeros(4 * K, dtype=np.int64)
    in_county = 0
    # unsigned indices: no wrap-around of negative ones (40 -> 34 us at scale 0.1)
    one, two, three, four = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
    for h in range(township.shape[0]):
        row, at = np.uint64(township[h]) * four, np.uint64(h) * four
        f0, f1, f2, f3 = flags[at], flags[at + one], flags[at + two], flags[at + three]
        n_at[row] += f0
        n_at[row + one] += f1
        n_at[row + two] += f2
        n_at[row + three] += f3
        in_county += f0 | f1 | f2
    occupied[:] = 0.0
    at_seat = 0
    for t in range(K):
        occupied[K + t] += n_at[4 * t + LOC_VILLAGE] * w
        occupied[t] += n_at[4 * t + LOC_TOWN] * w
        at_seat += n_at[4 * t + LOC_SEAT]
    occupied[0] += at_seat * w
    use[:] = 0.0
    if has_housing:
        for t in range(K):
            h = housing[t]
            use[t] = occupied[t] / (h if (h >= 1e-9 or h != h) else 1e-9)  # np.maximum
    urban = np.empty(n_places)
    n_urban = 0
    big = 0
    for q in range(n_places):
        if is_urban[q]:
            urban[n_urban] = residents[q]
            n_urban += 1
        if 1 <= q < K and is_urban[q] and residents[q] >= min_residents:
            big += 1
    sums[0] = 0.0 + _sum(residents, 0, n_places - 1)
    sums[1] = 0.0 + _sum(urban, 0, n_urban)
    sums[2] = 0.0 + _sum(pupils, 0, n_places - 1)
    sums[3] = pupils[0]
    sums[4] = (resident[0] + resident[1] + resident[AC_PUPIL]) * w
    sums[5] = resident[AC_OLD] * w
    sums[6] = resident[0] * w
    sums[7] = registered * w
    sums[8] = 0.0 + _sum(residents, 1, K - 1)  # residents[1:K].sum(): town centres
    sums[9] = 0.0 + _sum(residents, K, K)  # residents[K:2 * K].sum(): village areas
    sums[10] = residents[0]  # the county seat
    sums[11] = residents[n_places - 1]  # outside
    sums[12] = 0.0 + _sum(housing, 0, housing.shape[0]) if has_housing else np.nan
    return big, in_county


_by_place = _jit(_by_place_loop)


def _output_sums_loop(jobs, spend, out):
    # jobs.sum(axis=0) into out[:s] (the rows added in order to the identity 0.0, as NumPy
    # reduces a table along its first axis), then out[s] = that row's sum and out[s + 1] =
    # spend.sum(), NumPy's pairwise sums (0.0 + _sum)
    n, s = jobs.shape
    for j in range(s):
        out[j] = 0.0
    for i in range(n):
        for j in range(s):
            out[j] += jobs[i, j]
    out[s] = 0.0 + _sum(out, 0, s)
    out[s + 1] = 0.0 + _sum(spend, 0, spend.shape[0])
    return 0


_output_sums = _jit(_output_sums_loop)


def output_sums(jobs: np.ndarray, spend: np.ndarray, out: np.ndarray) -> None:
    """``jobs.sum(axis=0)``, its sum and ``spend.sum()`` into ``out``, the same bits as NumPy's
    (one compiled call for the yearly outputs instead of three reductions).

    Parameters
    ----------
    jobs : numpy.ndarray of float64, shape (n, s)
    spend : numpy.ndarray of float64, shape (m,)
    out : numpy.ndarray of float64, shape (s + 2,)

    Notes
    -----
    NumPy adds the rows of a C-contiguous table with two or more columns in order; a single
    column (or another layout) it sums pairwise: those go to NumPy (tested both ways).
    """
    if jobs.shape[1] > 1 and jobs.flags.c_contiguous:
        _output_sums(jobs, spend, out)
    else:
        by_column = jobs.sum(axis=0)
        out[:-2] = by_column
        out[-2], out[-1] = by_column.sum(), spend.sum()
