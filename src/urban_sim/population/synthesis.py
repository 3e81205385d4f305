"""Synthetic population of a county at a census year.

Method (documented in docs/ODD.md, "Initialization"):

1. Resident households: sizes are drawn from the household-size distribution of the year
   (Lüliang family households as proxy) until the census resident total is reached exactly; the
   last household is trimmed.
2. Resident ages: exact quotas per 5-year group (largest remainder) from the resident age
   structure; slots are filled so that older persons fill elder slots, the youngest fill child
   slots, and adults are paired as head and spouse; households with children take the younger
   adults so that parents and children differ by a generation on average.
3. Sex: heads and spouses of opposite sex; the rest chosen so the resident male total equals the
   census figure exactly where the census gives it.
4. Registered persons living outside the county (registered − resident) get ages from the
   outside age structure and join resident households at random.
5. Places: whole households are assigned to the county seat until the county-seat population
   (census urban population × county-seat share) is reached, then to each designated town centre
   (urban, by township weight), the remainder to township seats and villages by weight. The last
   household at each quota is split so that every count is exact.

With ``scale < 1`` every total is multiplied by ``scale`` and each agent stands for
``1/scale`` persons.
"""

from __future__ import annotations

import numpy as np

from urban_sim.data.tables import CountyData
from urban_sim.errors import DataError
from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE


def quota(shares: np.ndarray, total: int) -> np.ndarray:
    """Integer counts proportional to ``shares`` that sum exactly to ``total``.

    Largest-remainder (Hamilton) rounding.

    Parameters
    ----------
    shares : numpy.ndarray, shape (k,)
        Non-negative weights (need not sum to 1).
    total : int
        Non-negative total.

    Returns
    -------
    numpy.ndarray of int64, shape (k,)
    """
    shares = np.asarray(shares, dtype=float)
    if total == 0 or shares.sum() <= 0:
        return np.zeros(shares.shape, dtype=np.int64)
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    rest = int(total - counts.sum())
    if rest:
        counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


def _ages(table, population: str, year: int, n: int, rng: np.random.Generator) -> np.ndarray:
    rows = table[(table["population"] == population) & (table["year"] == year)]
    if rows.empty:
        raise DataError(f"age_structure.csv: no rows for population {population!r}, year {year}")
    lo = rows["age_min"].to_numpy(int)
    hi = rows["age_max"].to_numpy(int)
    counts = quota(rows["share"].to_numpy(float), n)
    ages = rng.integers(np.repeat(lo, counts), np.repeat(hi, counts) + 1)
    return ages.astype(np.int16)


def _sizes(table, year: int, n_persons: int, rng: np.random.Generator) -> np.ndarray:
    rows = table[table["year"] == year].sort_values("size")
    sizes, shares = rows["size"].to_numpy(int), rows["share"].to_numpy(float)
    mean = float((sizes * shares).sum())
    draw = sizes[rng.choice(len(sizes), size=int(n_persons / mean * 1.2) + 10, p=shares / shares.sum())]
    cum = np.cumsum(draw)
    k = int(np.searchsorted(cum, n_persons)) + 1
    draw = draw[:k].copy()
    draw[-1] -= int(cum[k - 1] - n_persons)
    return draw[draw > 0]


def _fill_by_quota(order: np.ndarray, sizes: np.ndarray, target: int) -> tuple[np.ndarray, int]:
    """Households (in ``order``) taken whole until ``target`` persons, and the split remainder.

    Returns the taken households (the last one possibly partly) and how many of the last
    household's members are taken.
    """
    cum = np.cumsum(sizes[order])
    k = int(np.searchsorted(cum, target, side="left"))
    if target == 0:
        return order[:0], 0
    taken = order[: k + 1]
    last = int(target - (cum[k - 1] if k else 0))
    return taken, last


def synthesize(
    data: CountyData, year: int, *, scale: float, params: dict[str, float], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Build person and household columns matching the census totals of ``year``.

    Parameters
    ----------
    data : CountyData
    year : int
        Census year with resident, urban and registered totals in ``census.csv``.
    scale : float
        Fraction of the population to simulate, in (0, 1].
    params : dict
        Model parameters (uses ``land_tie_share``, ``seat_urban_hukou_share``).
    rng : numpy.random.Generator

    Returns
    -------
    persons, households : dict of numpy.ndarray
        Columns for :class:`urban_sim.population.state.Table`.

    Raises
    ------
    DataError
        If a needed census row or table year is missing.
    """
    n_res = int(round(data.census_value("resident_population", year) * scale))
    n_urban = int(round(data.census_value("urban_population", year) * scale))
    n_reg = int(round(data.census_value("registered_population", year) * scale))
    seat_share = data.census_value("county_seat_share_of_urban", year)
    n_seat = int(round(n_urban * seat_share))
    if not 0 < n_urban <= n_res <= n_reg:
        raise DataError(
            f"{data.data_dir / 'census.csv'}: need 0 < urban ≤ resident ≤ registered in {year}, "
            f"got {n_urban}, {n_res}, {n_reg} (after scale {scale})"
        )
    hs_year = data.table_year(data.household_size, year)
    age_year = data.table_year(data.age_structure, year)

    # 1. household sizes and slot roles
    sizes = _sizes(data.household_size, hs_year, n_res, rng)
    n_hh = len(sizes)
    hh_of_slot = np.repeat(np.arange(n_hh), sizes)
    slot = np.arange(n_res) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    has_spouse = sizes[hh_of_slot] >= 2
    is_elder = (sizes[hh_of_slot] >= 5) & (slot == sizes[hh_of_slot] - 1)
    is_head = slot == 0
    is_spouse = (slot == 1) & has_spouse & ~is_elder
    is_child = ~(is_head | is_spouse | is_elder)

    # 2. ages into slots
    ages = np.sort(_ages(data.age_structure, "resident", age_year, n_res, rng))
    age = np.empty(n_res, dtype=np.int16)
    n_elder, n_child = int(is_elder.sum()), int(is_child.sum())
    elder_slots = rng.permutation(np.flatnonzero(is_elder))
    age[elder_slots] = ages[n_res - n_elder :]
    rest = ages[: n_res - n_elder]
    # rank households: those with children first (random within), so they get younger adults
    has_child = np.bincount(hh_of_slot[is_child], minlength=n_hh) > 0
    rank = np.lexsort((rng.random(n_hh), ~has_child))
    pos = np.empty(n_hh, dtype=np.int64)
    pos[rank] = np.arange(n_hh)
    child_slots = np.flatnonzero(is_child)
    child_slots = child_slots[np.argsort(pos[hh_of_slot[child_slots]], kind="stable")]
    age[child_slots] = rest[:n_child]
    adult_slots = np.flatnonzero(is_head | is_spouse)
    adult_slots = adult_slots[np.argsort(pos[hh_of_slot[adult_slots]], kind="stable")]
    age[adult_slots] = rest[n_child:]

    # 3. sex
    female = rng.random(n_res) < 0.5
    spouse_idx = np.flatnonzero(is_spouse)
    female[spouse_idx] = ~female[spouse_idx - 1]
    try:
        n_male = int(round(data.census_value("male_population", year) * scale))
    except DataError:
        n_male = None
    if n_male is not None:
        free = np.flatnonzero(~(is_head | is_spouse))
        fixed = np.ones(n_res, dtype=bool)
        fixed[free] = False
        fixed_male = int((~female[fixed]).sum())
        need = n_male - fixed_male
        if 0 <= need <= len(free):
            female[free] = True
            female[rng.choice(free, size=need, replace=False)] = False
        else:
            female[:] = True
            female[rng.choice(n_res, size=n_male, replace=False)] = False

    # mothers: the female head/spouse of a child's household, 16-45 years older
    mother = np.full(n_res, -1, dtype=np.int32)
    head_of = np.cumsum(sizes) - sizes
    cand_h = head_of[hh_of_slot[child_slots]]
    for cand in (cand_h, cand_h + 1):
        ok = (cand < n_res) & (mother[child_slots] < 0)
        c = np.where(ok, cand, 0)
        ok &= (hh_of_slot[c] == hh_of_slot[child_slots]) & female[c]
        gap = age[c].astype(int) - age[child_slots]
        ok &= (gap >= 16) & (gap <= 45) & (is_head[c] | is_spouse[c])
        mother[child_slots[ok]] = c[ok]

    # 4. registered persons outside the county
    n_out = n_reg - n_res
    out_age = _ages(data.age_structure, "outside", age_year, n_out, rng)
    adults = np.bincount(hh_of_slot, weights=(age >= 18).astype(float), minlength=n_hh)
    out_hh = rng.choice(n_hh, size=n_out, p=adults / adults.sum()) if n_out else np.zeros(0, int)

    # 5. places
    tw = data.townships
    vil = data.villages
    n_town = len(tw)
    kind = tw["kind"].to_numpy()
    base = np.full(n_hh, LOC_VILLAGE, dtype=np.int8)
    township = np.full(n_hh, -1, dtype=np.int16)
    loc = np.full(n_res, LOC_VILLAGE, dtype=np.int8)
    order = rng.permutation(n_hh)
    at = 0

    def take(target: int, where: int, town: int | None) -> None:
        nonlocal at
        taken, last = _fill_by_quota(order[at:], sizes, target)
        if not len(taken):
            return
        base[taken] = where
        if town is not None:
            township[taken] = town
        is_taken = np.zeros(n_hh, dtype=bool)
        is_taken[taken] = True
        members = is_taken[hh_of_slot]
        loc[members] = where
        lh = taken[-1]
        first = head_of[lh]
        loc[first + last : first + sizes[lh]] = LOC_VILLAGE  # split: the rest stay in the village
        at += len(taken)

    take(n_seat, LOC_SEAT, None)
    weight = tw["population_weight"].to_numpy(float)
    town_ids = np.flatnonzero(kind == "town")
    for t, n in zip(town_ids, quota(weight[town_ids], n_urban - n_seat), strict=True):
        take(int(n), LOC_TOWN, int(t))
    # rural: township seats of 乡 and villages, by township weight
    rest_hh = order[at:]
    rest_n = int(sizes[rest_hh].sum())
    rural_t = quota(weight, rest_n)
    cum = np.concatenate([[0], np.cumsum(sizes[rest_hh])])
    bounds = np.searchsorted(cum, np.cumsum(rural_t), side="left")
    starts = np.concatenate([[0], bounds[:-1]])
    for t in range(n_town):
        township[rest_hh[starts[t] : bounds[t]]] = t
    township[rest_hh[township[rest_hh] < 0]] = int(np.argmax(weight))  # rounding leftovers
    centre = np.where(kind == "township", tw["centre_share"].to_numpy(float), 0.0)
    to_centre = (rng.random(len(rest_hh)) < centre[township[rest_hh]]) & (base[rest_hh] == LOC_VILLAGE)
    base[rest_hh[to_centre]] = LOC_TOWN
    # seat households come from anywhere in the county
    seat_hh = base == LOC_SEAT
    township[seat_hh] = rng.choice(n_town, size=int(seat_hh.sum()), p=weight / weight.sum())
    # villages within township, by village weight
    vt = vil["township_id"].to_numpy(int)
    vw = vil["population_weight"].to_numpy(float)
    village = np.empty(n_hh, dtype=np.int32)
    for t in range(n_town):
        ids = np.flatnonzero(vt == t)
        mine = np.flatnonzero(township == t)
        village[mine] = ids[rng.choice(len(ids), size=len(mine), p=vw[ids] / vw[ids].sum())]
    in_rest = np.zeros(n_hh, dtype=bool)
    in_rest[rest_hh] = True
    rest_members = in_rest[hh_of_slot]
    loc[rest_members] = base[hh_of_slot[rest_members]]

    hukou_urban = seat_hh & (rng.random(n_hh) < params["seat_urban_hukou_share"])
    land_tie = ~hukou_urban & (rng.random(n_hh) < params["land_tie_share"])

    persons = {
        "age": np.concatenate([age, out_age]).astype(np.int16),
        "female": np.concatenate([female, rng.random(n_out) < 0.5]),
        "hh": np.concatenate([hh_of_slot, out_hh]).astype(np.int32),
        "loc": np.concatenate([loc, np.full(n_out, LOC_OUTSIDE, np.int8)]).astype(np.int8),
        "alive": np.ones(n_reg, dtype=bool),
        "mother": np.concatenate([mother, np.full(n_out, -1, np.int32)]),
        "trained": np.zeros(n_reg, dtype=bool),
        "sector": np.full(n_reg, -1, dtype=np.int8),
    }
    households = {
        "village": village,
        "township": township.astype(np.int16),
        "base": base,
        "hukou_urban": hukou_urban,
        "land_tie": land_tie,
        "land_rented": np.zeros(n_hh, dtype=bool),
        "homestead_withdrawn": np.zeros(n_hh, dtype=bool),
        "years_at_base": np.zeros(n_hh, dtype=np.int16),
    }
    return persons, households
