"""Compiled passes of the location choice (numba).

Each rule of :mod:`urban_sim.population.choice` (and of :mod:`urban_sim.population.migration`,
whose capacity allocation and return migration passes are in
:mod:`urban_sim.population.migration_kernels`) was a
sequence of NumPy passes, each writing a full-length temporary. Here one compiled loop reads
every column once and does the gathers, additions, comparisons, compactions and scatter-adds of
several of those passes. Bit-identity with the NumPy rules (``tests/test_kernels_choice.py``
keeps them as the reference and compares):

- every floating-point operation is the same, on the same operands, in the same order (a sum
  ``((a + b) + c) ...`` is added up as NumPy did, column by column; a term NumPy added as
  ``+ 0.0`` or multiplied by ``0.0`` is still added or multiplied here);
- the nested logit's ``exp``/``log`` are :mod:`urban_sim.population.elementary`'s (as in the
  tests' NumPy reference and ``choice.nested_logit_probabilities``); elsewhere ``exp``, ``log``
  and ``log1p`` stay NumPy calls between the compiled passes (numba's differ from NumPy's in
  the last bit for a few per cent of values); where a column takes a few values (return
  migration's hazard exponent: four), NumPy takes the ``exp`` of those values;
- random numbers are drawn in batches, in the same order, by
  :func:`urban_sim.population.vital_kernels.uniforms` (``rng.random(n)``, PCG64 stepped
  inline), or, where only a few values of a batch are used, by
  :mod:`urban_sim.population.sparse_draws`.

No ``fastmath``; ``error_model="numpy"`` (IEEE division without Python's zero check, so that
loops vectorise). Compiled code is cached on disk (``cache=True``). Loops that would branch on
random data compact without a branch; a branch is kept where it is rarely taken.
"""

from __future__ import annotations

import numpy as np

from urban_sim.population import kernels
from urban_sim.population.elementary import exp, log
from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE


def _jit(fn):
    # error_model="numpy": a division is IEEE's (inf/NaN, as NumPy's) without Python's
    # ZeroDivisionError check, which would keep the loop from being vectorised
    return kernels._jit(fn, error_model="numpy")


OUTSIDE, SEAT, TOWN, VILLAGE = LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE
"""Location codes (compile-time constants of the kernels)."""


# --------------------------------------------------------------------------- location choice
def _members_at_base_loop(hh, loc, alive, age, base, age_class, village, rented, tie, withdrawn,
                          hukou):
    n = hh.shape[0]
    at = np.empty(n, dtype=np.bool_)
    deciding = np.empty(n, dtype=np.intp)
    m = 0
    for i in range(n):  # compaction without a branch: every slot is written, kept or not
        b = base[hh[i]]
        a = alive[i] & (loc[i] == b)
        at[i] = a
        deciding[m] = i
        m += a & (b != OUTSIDE)
    # by household: members at the base of class 0, 1, 2 and 200 − youngest adult's age
    cnt = np.zeros((base.shape[0], 4), dtype=np.int32)
    for s in range(m):
        i = deciding[s]
        h = hh[i]
        a = age[i]
        cnt[h, age_class[a]] += 1
        cnt[h, 3] = max(cnt[h, 3], 200 - (np.int32(a) if a >= 18 else np.int32(200)))
    return (at,) + _deciders_loop(cnt, village, base, rented, tie, withdrawn, hukou)


def _deciders_loop(cnt, village, base, rented, tie, withdrawn, hukou):
    nH = base.shape[0]
    dec = np.empty(nH, dtype=np.intp)
    m = 0
    for h in range(nH):  # compaction without a branch: every slot is written, kept or not
        dec[m] = h
        m += (cnt[h, 0] + cnt[h, 1] + cnt[h, 2]) > 0
    dec = dec[:m].copy()
    cols = (np.empty(m, village.dtype), np.empty(m, base.dtype), np.empty(m, np.int64),
            np.empty(m, np.bool_), np.empty(m, np.bool_), np.empty(m, np.bool_),
            np.empty(m, np.bool_), np.empty(m, np.int16))
    for k in range(m):
        h = dec[k]
        cols[0][k] = village[h]
        cols[1][k] = base[h]
        cols[2][k] = cnt[h, 1]
        cols[3][k] = rented[h]
        cols[4][k] = tie[h] & (not withdrawn[h])
        cols[5][k] = hukou[h]
        cols[6][k] = cnt[h, 2] > 0
        cols[7][k] = 200 - cnt[h, 3]
    return (dec,) + cols


def members_at_base(hh, loc, alive, age, base, age_class, village, rented, tie, withdrawn, hukou):
    """Persons at their household's base and the deciding households' columns, one pass.

    Parameters
    ----------
    hh, loc, alive, age : numpy.ndarray, shape (n_persons,)
        Person columns (household, location code, alive, age in years).
    base, village, rented, tie, withdrawn, hukou : numpy.ndarray, shape (n_households,)
        Household columns: base location code, home village, land rented out, land tie held,
        homestead withdrawn, urban hukou.
    age_class : numpy.ndarray of int, indexed by age
        0 other, 1 working age, 2 aged 6 or 12 (``migration.CHOICE_AGE_CLASS``).

    Returns
    -------
    tuple of numpy.ndarray
        ``at`` (bool by person: living and at the household's base, any base), ``dec``
        (households with a living member at an in-county base, ascending) and, by deciding
        household (shape (len(dec),)): village, base, members of working age at the base
        (int64), land rented, land tied (tie held and homestead not withdrawn), urban hukou,
        a member at the base aged 6 or 12, age of the youngest member aged ≥ 18 at the base
        (int16; 200 if none). Integer counts, so identical to the bincounts they replace.
    """
    return _members_at_base_jit(hh, loc, alive, age, base, age_class, village, rented, tie,
                                withdrawn, hukou)


def _movers_loop(choice, dec, base, n_workers, trigger, u2):
    n = choice.shape[0]
    idx = np.empty(n, dtype=np.intp)
    m = 0
    for i in range(n):  # rare (≈ 4 % of deciders move): a branch is cheaper
        if choice[i] != base[i]:
            idx[m] = i
            m += 1
    hh = np.empty(m, dtype=dec.dtype)
    dest = np.empty(m, dtype=np.int8)
    current = np.empty(m, dtype=np.int64)
    workers = np.empty(m, dtype=n_workers.dtype)
    trig = np.empty(m, dtype=np.bool_)
    u = np.empty(m if u2.shape[0] else 0)
    for k in range(m):
        i = idx[k]
        hh[k] = dec[i]
        dest[k] = choice[i]
        current[k] = base[i]
        workers[k] = n_workers[i]
        trig[k] = trigger[i]
    for k in range(u.shape[0]):
        u[k] = u2[idx[k]]
    return idx[:m], hh, dest, current, workers, trig, u


_movers_jit = _jit(_movers_loop)


def movers(choice, dec, base, n_workers, trigger, u2):
    """The deciding households whose choice differs from their base, and their columns.

    Parameters
    ----------
    choice : numpy.ndarray of int8, shape (n,)
        Chosen alternative of each deciding household.
    dec, base, n_workers, trigger : numpy.ndarray, shape (n,)
        Household index, base location code (the codes of the alternatives 0-2), members of
        working age at the base and school trigger of each deciding household.
    u2 : numpy.ndarray of float, shape (n,) or (0,)
        A uniform per deciding household, or none.

    Returns
    -------
    tuple of numpy.ndarray
        ``movers = flatnonzero(choice != base)`` and ``dec[movers]``, ``choice[movers]``,
        ``base[movers]`` (int64), ``n_workers[movers]``, ``trigger[movers]`` and
        ``u2[movers]`` (empty if ``u2`` is), in one pass.
    """
    return _movers_jit(choice, dec, base, n_workers, trigger, u2)


def _income_arguments_loop(n_workers, income, other):
    m = 0
    for i in range(n_workers.shape[0]):
        m = max(m, n_workers[i])
    x = np.empty((2, m + 1, income.shape[0]))
    for r in range(2):
        for w in range(m + 1):
            for q in range(income.shape[0]):
                x[r, w, q] = np.float64(w) * income[q] + other[r]
    return x


def income_arguments(n_workers, income, other):
    """``n_workers · y + other`` by rented, workers and place, shape (2, max n_workers + 1, 2K + 1).

    Parameters
    ----------
    n_workers : numpy.ndarray of int, shape (n,)
        Members of working age at the base of each deciding household (≥ 0).
    income : numpy.ndarray of float, shape (2K + 1,)
        Perceived income by place, yuan per worker and year.
    other : numpy.ndarray of float, shape (2,)
        Other household income without and with land rented out, yuan per year.

    Returns
    -------
    numpy.ndarray of float
        NumPy's ``arange(max + 1)[:, None] * income + other[:, None, None]`` (the same
        operations), whose ``log`` NumPy takes before :func:`utilities`.
    """
    return _income_arguments_jit(n_workers, income, other)


def _utilities_loop(log_income, asc, b_y, dist, vp, network, b_net, amenity, b_a, congestion,
                    b_c, village, current, n_workers, rented, tied, hukou, trigger, youngest,
                    stay, b_school, quality, v0_add, a0, a1, v3_add, l0, l1, b_price, log_price,
                    lam, out):
    # the group terms of the four alternatives depend on (current, rented, n_workers, village)
    # only: where the households are at least as many as the groups, each group is computed
    # once (all of them) and gathered; else they are computed for each household (at scale
    # 0.1 ≈ 15,000 deciders and ≈ 25,000 groups: the household then reads the small place
    # and village tables, not an 0.8 MB table of groups; ≈ 15 % less per household).
    # Then the household terms, in the order of the utility. lam <= 0 writes the utilities
    # (rows 0-3), else the lower level of the nested logit (V/λ of town and seat shifted by
    # their maximum in rows 1-2, that maximum in row 4)
    n_vil = vp.shape[0]
    n = village.shape[0]
    R, W, Q = log_income.shape
    # income terms ASC_j + β_y ln(n_workers · y + other) by rented, workers, alternative and
    # place (NumPy's asc + b_y * log_income, broadcast)
    income = np.empty((R, W, 4, Q))
    for r in range(R):
        for w in range(W):
            for j in range(4):
                for q in range(Q):
                    income[r, w, j, q] = asc[j] + b_y * log_income[r, w, q]
    # by village, term (network, amenity, congestion) and alternative: the products of the
    # place terms (the network term of alternative 0 is b_net * 0.0), added in this order
    pt = np.empty((n_vil, 3, 4))
    for v in range(n_vil):
        for j in range(4):
            p = vp[v, j]
            pt[v, 0, j] = b_net * (network[v, j] if j > 0 else 0.0)
            pt[v, 1, j] = b_a * amenity[p]
            pt[v, 2, j] = b_c * congestion[p]
    n_keys = 3 * 2 * W * n_vil
    table = np.empty((0, 4))
    if n >= n_keys:
        table = np.empty((n_keys, 4))
        for c in range(3):
            for r in range(2):
                for w in range(W):
                    for v in range(n_vil):
                        key = ((c * 2 + r) * W + w) * n_vil + v
                        g = _group(c, r, w, v, income, dist, vp, pt)
                        table[key, 0], table[key, 1], table[key, 2], table[key, 3] = g
    for i in range(n):  # the group terms (rows 0-3) and the stay term (row 4)
        c = np.int64(current[i])
        cu = np.uint64(c)  # unsigned indices: no wrap-around of negative ones
        if table.shape[0]:
            key = ((c * 2 + rented[i]) * W + n_workers[i]) * n_vil + village[i]
            out[0, i], out[1, i], out[2, i], out[3, i] = (table[key, 0], table[key, 1],
                                                          table[key, 2], table[key, 3])
        else:
            out[0, i], out[1, i], out[2, i], out[3, i] = _group(
                cu, np.uint64(rented[i]), np.uint64(n_workers[i]), np.uint64(village[i]), income,
                dist, vp, pt)
        out[4, i] = stay[cu, np.uint64(youngest[i])]
    _household_terms(current, rented, tied, hukou, trigger, b_school, quality, v0_add, a0, a1,
                     v3_add, l0, l1, b_price, log_price, lam, out)


def _household_terms(current, rented, tied, hukou, trigger, b_school, quality, v0_add, a0, a1,
                     v3_add, l0, l1, b_price, log_price, lam, out):
    # no gather and no branch (selects): the loop is vectorised
    s0, s1 = b_school * quality[0], b_school * quality[1]  # β_S q_j
    s2, s3 = b_school * quality[2], b_school * quality[3]
    pr0, pr1 = b_price * log_price[0], b_price * log_price[1]  # β_P ln price_j
    for i in range(current.shape[0]):
        c = current[i]
        tr = trigger[i]
        x0, x1, x2, x3, st = out[0, i], out[1, i], out[2, i], out[3, i], out[4, i]
        x0 = x0 + s0 if tr else x0  # school: only where triggered
        x1 = x1 + s1 if tr else x1
        x2 = x2 + s2 if tr else x2
        x3 = x3 + s3 if tr else x3
        x0 += v0_add  # service access
        acc = a1 if hukou[i] else a0
        x1 += acc
        x2 += acc
        x3 += v3_add
        lt = (l1 if rented[i] else l0) * (1.0 if tied[i] else 0.0)  # land tie
        away1 = 1.0 if c != 1 else 0.0
        away2 = 1.0 if c != 2 else 0.0
        x1 -= lt * away1
        x2 -= lt * away2
        x3 -= lt
        x1 -= pr0 * away1  # dwelling price
        x2 -= pr1 * away2
        x0 += st if c == 0 else 0.0  # stay at the current alternative, + 0.0 at the others
        x1 += st if c == 1 else 0.0
        x2 += st if c == 2 else 0.0
        if lam > 0:
            x1 = x1 / lam
            x2 = x2 / lam
            top = x1 if (x1 >= x2) | (x1 != x1) else x2  # np.maximum: a NaN wins
            x1 -= top
            x2 -= top
            out[4, i] = top
        out[0, i] = x0
        out[1, i] = x1
        out[2, i] = x2
        out[3, i] = x3


def _group(c, r, w, v, income, dist, vp, pt):
    # income − distance + network + amenity − congestion, in this order, at the places of the
    # alternatives (village area, township centre, county seat, outside); no town in township 0
    t0 = income[r, w, 0, vp[v, 0]] - dist[v, c, 0]
    t1 = income[r, w, 1, vp[v, 1]] - dist[v, c, 1]
    t2 = income[r, w, 2, vp[v, 2]] - dist[v, c, 2]
    t3 = income[r, w, 3, vp[v, 3]] - dist[v, c, 3]
    t0 = ((t0 + pt[v, 0, 0]) + pt[v, 1, 0]) - pt[v, 2, 0]
    t1 = ((t1 + pt[v, 0, 1]) + pt[v, 1, 1]) - pt[v, 2, 1]
    t2 = ((t2 + pt[v, 0, 2]) + pt[v, 1, 2]) - pt[v, 2, 2]
    t3 = ((t3 + pt[v, 0, 3]) + pt[v, 1, 3]) - pt[v, 2, 3]
    return t0, (-np.inf if vp[v, 1] == 0 else t1), t2, t3


def _utilities_into(args, lam, out):
    _utilities_jit(*args, lam, out)


def _nest_sum_loop(e, log_s):
    # e: town's and seat's V/λ shifted by their maximum, in place their conditional
    # probabilities; log_s: the log of the nest sum (elementary.exp/log: vectorised). One exp
    # a household: the larger shifted value is exactly 0 (x − x) and exp(0) = 1 exactly, so
    # only the other's is computed (x + 0 = x; a NaN row stays NaN)
    for i in range(log_s.shape[0]):
        x0, x1 = e[0, i], e[1, i]
        other = exp(x0 + x1)
        e0 = 1.0 if x0 == 0.0 else other
        e1 = other if x0 == 0.0 else (1.0 if x1 == 0.0 else other)
        t = e0 + e1
        log_s[i] = log(t)
        e[0, i] = e0 / t  # conditional probabilities of town and seat
        e[1, i] = e1 / t


def _upper_nest_loop(log_s, lam, lower, shifted):
    # the upper level's values shifted by their maximum and their exp (elementary.exp) into
    # shifted; returns True where exp(shifted[2]) can be below 1e-300 somewhere (a shifted
    # value below -600: exp(-600) > 1e-261) and none is NaN (NumPy's min of the exps: NaN)
    small = False
    nan = False
    for i in range(log_s.shape[0]):
        iv1 = (log_s[i] + lower[4, i]) * lam
        v0, v3 = lower[0, i], lower[3, i]
        t = v0 if (v0 >= iv1) | (v0 != v0) else iv1  # np.maximum: a NaN wins
        t = t if (t >= v3) | (t != t) else v3
        s0, s1, x = v0 - t, iv1 - t, v3 - t
        # two exps a household: the maximum's shifted value is exactly 0 and exp(0) = 1
        # exactly; ep and eq are the other two's (a NaN row: all NaN, exp(NaN) = NaN).
        # Utilities are finite or −inf (never +inf, where inf − inf would differ from 3 exps)
        z0, z1 = s0 == 0.0, s1 == 0.0
        ep = exp(s1 if z0 else s0)
        eq = exp(s1 if (not z0) & (not z1) else x)
        shifted[0, i] = 1.0 if z0 else ep
        shifted[1, i] = ep if z0 else (1.0 if z1 else eq)
        shifted[2, i] = eq if z0 | z1 else (1.0 if x == 0.0 else eq)
        small |= x < -600.0
        nan |= x != x
    return small & (not nan)


def _draw_loop(g, e, u, choice):
    for i in range(u.shape[0]):
        tot = g[0, i] + g[1, i]
        tot += g[2, i]
        p0 = g[0, i] / tot
        pg1 = g[1, i] / tot
        p1 = e[0, i] * pg1
        p2 = e[1, i] * pg1
        c1 = p0 + p1
        ui = u[i]
        choice[i] = np.int8(ui >= p0) + np.int8(ui >= c1) + np.int8(ui >= c1 + p2)


def _zero_outside_loop(g, e, choice):
    # an alternative of probability 0 can only be drawn as the last one (round-off)
    for i in range(choice.shape[0]):
        if choice[i] == 3:
            tot = g[0, i] + g[1, i]
            tot += g[2, i]
            pg1 = g[1, i] / tot
            probs = (g[0, i] / tot, e[0, i] * pg1, e[1, i] * pg1, g[2, i] / tot)
            if probs[3] <= 0:
                best = 0
                for k in range(1, 4):  # np.argmax: the first maximum, a NaN first
                    if probs[best] != probs[best]:
                        break
                    if (probs[k] > probs[best]) | (probs[k] != probs[k]):
                        best = k
                choice[i] = best


def _perceive_loop(chance, chance_out, wage, fallback, amenity, amenity_out, congestion, tau,
                   income_p, amenity_p, congestion_p, counts):
    n = chance.shape[0]
    for i in range(n + 1):  # the places, then outside
        c = chance[i] if i < n else chance_out
        v = c * wage[i] + (1 - c) * fallback[i]
        income_p[i] += (v - income_p[i]) / tau
        a = amenity[i] if i < n else amenity_out
        amenity_p[i] += (a - amenity_p[i]) / tau
        g = congestion[i] if i < n else 0.0
        congestion_p[i] += (g - congestion_p[i]) / tau
    network = np.empty(counts.shape)
    for v in range(counts.shape[0]):
        tot = max(counts[v, 0] + counts[v, 1] + counts[v, 2] + counts[v, 3], 1)
        for j in range(4):
            network[v, j] = counts[v, j] / tot
    return network


def perceive(chance, chance_out, wage, fallback, amenity, amenity_out, congestion, tau,
             perceived, counts):
    """One year of the smoothed (perceived) place inputs of the choice, and the network shares.

    ``perceived[k] += (current_k − perceived[k]) / tau`` for the expected income ``c · wage +
    (1 − c) · fallback`` (``c`` the employment chance), the amenity and the congestion by place
    (outside last: ``chance_out``, ``amenity_out``, congestion 0), written in place; the NumPy
    operations of ``CountyModel._perceive`` in its order (``tests/test_kernels_choice.py``).

    Parameters
    ----------
    chance, amenity, congestion : numpy.ndarray of float, shape (2K,)
        This year's employment chance, amenity and congestion by place in the county.
    chance_out, amenity_out : float
        Employment chance and amenity outside the county.
    wage, fallback : numpy.ndarray of float, shape (2K + 1,)
        Wage and fallback income by place, yuan per worker and year.
    tau : float
        Perception delay, years (≥ 1).
    perceived : dict of str to numpy.ndarray
        ``income``, ``amenity`` and ``congestion``, shape (2K + 1,), updated in place.
    counts : numpy.ndarray of int64, shape (n_villages, 4)
        Absent members by village and location.

    Returns
    -------
    numpy.ndarray of float, shape (n_villages, 4)
        ``counts`` divided by their row sums (at least 1).
    """
    return _perceive_jit(chance, chance_out, wage, fallback, amenity, amenity_out, congestion, tau,
                         perceived["income"], perceived["amenity"], perceived["congestion"], counts)


_perceive_jit = _jit(_perceive_loop)
_deciders_loop = _jit(_deciders_loop)  # called from the compiled loop below
_members_at_base_jit = _jit(_members_at_base_loop)
_group = _jit(_group)  # called from the compiled loop below
_household_terms = _jit(_household_terms)  # called from the compiled loop below
_utilities_jit = _jit(_utilities_loop)
_income_arguments_jit = _jit(_income_arguments_loop)
_nest_sum_jit = _jit(_nest_sum_loop)
_upper_nest_jit = _jit(_upper_nest_loop)
_draw_jit = _jit(_draw_loop)
_zero_outside_jit = _jit(_zero_outside_loop)


def utilities(args: tuple, n: int) -> np.ndarray:
    """The four utility columns, shape (4, n), from :func:`choice._utility_args`'s ``args``."""
    out = np.empty((5, n))
    _utilities_into(args, 0.0, out)
    return out[:4]


def nested_logit_draw(args: tuple, lam: float, u: np.ndarray) -> np.ndarray:
    """Utilities, nested-logit probabilities and the inverse-CDF draw, int8 of shape (n,).

    Four compiled passes: (1) utilities, the urban nest's ``V/λ``, its maximum and the shifted
    values; (2) their ``exp``, the nest sum and its ``log``; (3) the inclusive value, the upper
    level's maximum, the shifted values and their ``exp``; (4) the probabilities and the draw
    from ``u``. The same operations in the same order as ``nested_logit_probabilities`` +
    ``draw_choice`` on the ``(n, 4)`` utilities, except that ``exp`` and ``log`` are
    :mod:`urban_sim.population.elementary`'s (below 1 ulp; they differ from NumPy's in the
    last bit for ≈ 5–10 % of values, which changes a draw only where ``u`` falls within that
    bit of a cumulative probability).
    """
    n = len(u)
    buf = np.empty((9, n))
    lower = buf[:5]  # v0, town and seat shifted by their maximum, v3, that maximum
    _utilities_into(args, lam, lower)
    e = lower[1:3]
    log_s = buf[5]
    _nest_sum_jit(e, log_s)
    g = buf[6:]
    small = _upper_nest_jit(log_s, lam, lower, g)
    choice = np.empty(n, dtype=np.int8)
    _draw_jit(g, e, u, choice)  # (vectorised: a minimum folded into it cost 4x at full scale)
    # where NumPy's g[2].min() < 1e-300 (else every p3 = g2 / tot > 0, tot ≤ 3), or more often
    # where no g2 is NaN (the fallback changes only draws of p3 = 0, which needs g2 = 0)
    if small:
        _zero_outside_jit(g, e, choice)
    return choice
