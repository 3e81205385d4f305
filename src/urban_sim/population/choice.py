"""Nested-logit location choice, computed for all deciding households at once.

Alternatives (columns): 0 home village, 1 home township's centre (town), 2 county seat,
3 outside the county. Nests: {village}, {town, county seat}, {outside}.
"""

from __future__ import annotations

import numpy as np

ALT_VILLAGE, ALT_TOWN, ALT_SEAT, ALT_OUTSIDE = 0, 1, 2, 3
NESTS = (np.array([0]), np.array([1, 2]), np.array([3]))


def nested_logit_probabilities(
    utility: np.ndarray, available: np.ndarray, lambdas: tuple[float, ...]
) -> np.ndarray:
    """Choice probabilities of a two-level nested logit.

    Parameters
    ----------
    utility : numpy.ndarray, shape (n, 4)
        Systematic utility ``V_hj``.
    available : numpy.ndarray of bool, shape (n, 4)
        Unavailable alternatives get probability 0; every row needs one available alternative.
    lambdas : tuple of float, length 3
        Dissimilarity parameter of each nest in (0, 1] (1 = multinomial logit within the nest).

    Returns
    -------
    numpy.ndarray, shape (n, 4)
        Rows sum to 1.

    Notes
    -----
    ``P(j) = P(j | g) P(g)`` with ``P(j | g) = exp(V_j/λ_g) / Σ_{k∈g} exp(V_k/λ_g)``,
    inclusive value ``I_g = ln Σ_{k∈g} exp(V_k/λ_g)`` and
    ``P(g) = exp(λ_g I_g) / Σ_g' exp(λ_g' I_g')`` (Train 2009, ch. 4). Computed with the
    log-sum-exp shift for stability.

    Raises
    ------
    ValueError
        If a ``lambda`` is outside (0, 1] or a row has no available alternative.
    """
    if any(not 0 < lam <= 1 for lam in lambdas):
        raise ValueError(f"nest parameters must lie in (0, 1], got {lambdas}")
    if not available.any(axis=1).all():
        raise ValueError("every decision maker needs at least one available alternative")
    n = utility.shape[0]
    probs = np.zeros_like(utility, dtype=float)
    iv = np.full((n, len(NESTS)), -np.inf)
    for g, (alts, lam) in enumerate(zip(NESTS, lambdas, strict=True)):
        scaled = np.where(available[:, alts], utility[:, alts] / lam, -np.inf)
        top = scaled.max(axis=1, keepdims=True)
        finite = np.isfinite(top[:, 0])
        top = np.where(np.isfinite(top), top, 0.0)
        e = np.exp(scaled - top)
        s = e.sum(axis=1, keepdims=True)
        probs[:, alts] = np.where(finite[:, None], e / np.where(s > 0, s, 1.0), 0.0)
        iv[finite, g] = lam * (np.log(s[finite, 0]) + top[finite, 0])
    top = iv.max(axis=1, keepdims=True)
    eg = np.exp(iv - top)
    pg = eg / eg.sum(axis=1, keepdims=True)
    for g, alts in enumerate(NESTS):
        probs[:, alts] *= pg[:, [g]]
    return probs


def draw_choice(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one alternative per row from one uniform per row.

    Parameters
    ----------
    probs : numpy.ndarray, shape (n, J)
    u : numpy.ndarray, shape (n,)
        Uniform draws in [0, 1).

    Returns
    -------
    numpy.ndarray of int8, shape (n,)
    """
    cum = np.cumsum(probs, axis=1)
    choice = (u[:, None] >= cum[:, :-1]).sum(axis=1)
    # never land on an alternative with zero probability through round-off
    bad = probs[np.arange(len(u)), choice] <= 0
    if bad.any():
        choice[bad] = probs[bad].argmax(axis=1)
    return choice.astype(np.int8)


def rogers_castro_shape(age: np.ndarray, mu2: float, lambda2: float, alpha2: float) -> np.ndarray:
    """Labour-force component of the Rogers–Castro migration schedule (unit height).

    ``m(a) = exp(−α2 (a − μ2) − exp(−λ2 (a − μ2)))`` normalised to its maximum, shape of ``age``.
    Source: Rogers & Castro (1981); defaults in parameters.csv (DemoTools ``mig_calculate_rc``).
    """
    x = np.asarray(age, dtype=float) - mu2
    m = np.exp(-alpha2 * x - np.exp(-lambda2 * x))
    peak = np.exp(-alpha2 * (np.log(lambda2 / alpha2) / lambda2) - alpha2 / lambda2)
    return m / peak


def capacity_lottery(
    place: np.ndarray, need: np.ndarray, vacancy: np.ndarray, weight: float, rng: np.random.Generator,
    *, max_rounds: int = 20,
) -> np.ndarray:
    """Random-order, first-fit allocation of scarce units (dwellings, school seats) by place.

    Parameters
    ----------
    place : numpy.ndarray of int, shape (n,)
        Place each applicant applies to.
    need : numpy.ndarray, shape (n,) or (n, k)
        Units each applicant needs (for k kinds of units; 0 where a kind is not needed).
    vacancy : numpy.ndarray, shape (n_places,) or (n_places, k)
        Free units at each place (full-population scale).
    weight : float
        Persons represented by one agent (1/scale).
    max_rounds : int
        Rounds of the vectorised first-fit pass (each round settles at least the first
        unsettled applicant at every place).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True for applicants who get every unit they need.

    Notes
    -----
    Applicants are served in one random order. An applicant is accepted if everything it needs
    is still free after the applicants accepted before it; one who does not fit is refused and
    uses nothing, so later, smaller applicants can still be served (first fit). Each round
    accepts the longest prefix that fits at every place and drops applicants that can no longer
    fit; it is exact once no applicant is left undecided.
    """
    n = len(place)
    if n == 0:
        return np.zeros(0, dtype=bool)
    need = need.reshape(n, -1) * weight
    free = vacancy.reshape(len(vacancy), -1).astype(float).copy()
    order = np.lexsort((rng.random(n), place))
    p, nd = place[order], need[order]
    ok_sorted = np.zeros(n, dtype=bool)
    open_ = np.ones(n, dtype=bool)
    for _ in range(max_rounds):
        open_ &= (nd <= free[p] + 1e-9).all(axis=1)
        idx = np.flatnonzero(open_)
        if not len(idx):
            break
        pi = p[idx]
        first = np.r_[0, np.flatnonzero(np.diff(pi)) + 1]
        sizes = np.diff(np.r_[first, len(idx)])
        cum = np.cumsum(nd[idx], axis=0)
        offset = np.vstack([np.zeros((1, nd.shape[1])), cum[first[1:] - 1]])
        within = cum - np.repeat(offset, sizes, axis=0)
        fits = (within <= free[pi] + 1e-9).all(axis=1)
        # accept each place's prefix up to its first applicant that does not fit ...
        pos = np.arange(len(idx))
        first_bad = np.minimum.reduceat(np.where(fits, len(idx), pos), first)
        accept = pos < np.repeat(first_bad, sizes)
        acc = idx[accept]
        ok_sorted[acc] = True
        open_[acc] = False
        np.subtract.at(free, p[acc], nd[acc])
        # ... and refuse that applicant for good (free units only shrink)
        open_[idx[first_bad[first_bad < len(idx)]]] = False
    ok = np.empty(n, dtype=bool)
    ok[order] = ok_sorted
    return ok
