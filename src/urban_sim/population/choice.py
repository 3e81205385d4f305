"""Nested-logit location choice, computed for all deciding households at once.

Alternatives (columns): 0 home village, 1 home township's centre (town), 2 county seat,
3 outside the county. Nests: {village}, {town, county seat}, {outside}.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from urban_sim.population import choice_kernels as kc
from urban_sim.population import migration_kernels as mk
from urban_sim.population.elementary import exp_array, log_array

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
    log-sum-exp shift for stability; ``exp`` and ``log`` are those of the model's compiled
    choice (:mod:`urban_sim.population.elementary`, below 1 ulp), so that these probabilities
    are the model's to the last bit.

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
        e = exp_array(scaled - top)
        s = e.sum(axis=1, keepdims=True)
        probs[:, alts] = np.where(finite[:, None], e / np.where(s > 0, s, 1.0), 0.0)
        iv[finite, g] = lam * (log_array(s[finite, 0]) + top[finite, 0])
    top = iv.max(axis=1, keepdims=True)
    eg = exp_array(iv - top)
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
    fit; it is exact once no applicant is left undecided. The rounds are one compiled pass
    (:func:`urban_sim.population.migration_kernels.lottery`) with the floating-point operations
    of the NumPy rule they replaced, in its order (``tests/test_kernels_choice.py`` keeps that
    rule and compares).
    """
    n = len(place)
    if n == 0:
        return np.zeros(0, dtype=bool)
    free = np.array(vacancy, dtype=float).reshape(len(vacancy), -1)
    order = np.lexsort((rng.random(n), place))
    return mk.lottery(order, np.asarray(place, dtype=np.int64), need.reshape(n, -1), weight, free,
                      max_rounds)


# --------------------------------------------------------------------------- household rule
@dataclass(slots=True)
class Deciders:
    """Deciding households as one-dimensional columns, each of shape (n,).

    Attributes
    ----------
    village : numpy.ndarray of int
        Home village (its township is ``PlaceInputs.village_township[village]``).
    current : numpy.ndarray of int
        Alternative of the household's base: 0 village, 1 town, 2 county seat.
    n_workers : numpy.ndarray of int
        Members aged 16-59 at the base, ≥ 0.
    land_rented, land_tied, hukou_urban, school_trigger : numpy.ndarray of bool
        Land rented out; land still tied (land tie held, homestead not withdrawn); urban hukou;
        a member at the base aged 6 or 12 (school start or secondary school).
    youngest_adult_age : numpy.ndarray of int
        Age of the youngest member aged ≥ 18 at the base, years; 200 if there is none.
    """

    village: np.ndarray
    current: np.ndarray
    n_workers: np.ndarray
    land_rented: np.ndarray
    land_tied: np.ndarray
    hukou_urban: np.ndarray
    school_trigger: np.ndarray
    youngest_adult_age: np.ndarray

    def __len__(self) -> int:
        return len(self.village)

    def subset(self, idx: np.ndarray) -> "Deciders":
        """The households ``idx`` (for tests and benchmarks)."""
        return Deciders(*(getattr(self, f.name)[idx] for f in fields(self)))


@dataclass(slots=True)
class PlaceInputs:
    """Place-level inputs of one year's location choice.

    Place index ``p`` as in :class:`urban_sim.model.CountyModel`: 0 county seat, 1..K-1 town
    centres, K..2K-1 village areas, 2K outside.

    Attributes
    ----------
    income_yuan, amenity, congestion : numpy.ndarray, shape (2K+1,)
        Perceived expected income (yuan per worker and year), amenity and congestion by place.
    network_share : numpy.ndarray, shape (n_villages, 4)
        Share of each village's absent members living at each alternative (column 0 unused).
    village_township : numpy.ndarray of int, shape (n_villages,)
    village_centre_km, village_seat_km : numpy.ndarray, shape (n_villages,)
        Distance of each village to its township centre and to the county seat.
    township_seat_km : numpy.ndarray, shape (K,)
    school_quality : numpy.ndarray, shape (4,)
        By alternative (the county seat's already reduced for crowding).
    housing_price_yuan_m2 : numpy.ndarray, shape (2,)
        Town and county-seat price this year, net of housing support.
    hukou_service_access, land_reform : float
        Policy levers in [0, 1].
    """

    income_yuan: np.ndarray
    amenity: np.ndarray
    congestion: np.ndarray
    network_share: np.ndarray
    village_township: np.ndarray
    village_centre_km: np.ndarray
    village_seat_km: np.ndarray
    township_seat_km: np.ndarray
    school_quality: np.ndarray
    housing_price_yuan_m2: np.ndarray
    hukou_service_access: float
    land_reform: float


MAX_AGE_INDEX = 200
"""``youngest_adult_age`` never exceeds this (200 stands for "no adult at the base")."""


def stay_utility_by_age(params: Mapping[str, float]) -> np.ndarray:
    """Utility of staying at the base by age of the youngest adult, shape (201,).

    ``κ0 − κ1 ln m(min(a, 100))`` with ``m`` the :func:`rogers_castro_shape` (floored at 1e-12):
    high where migration propensity is low (children's parents, the old).
    """
    age = np.minimum(np.arange(MAX_AGE_INDEX + 1, dtype=np.int16), 100)
    shape = rogers_castro_shape(age, params["rc_mu2"], params["rc_lambda2"], params["rc_alpha2"])
    return params["stay_kappa0"] - params["stay_kappa1"] * np.log(np.maximum(shape, 1e-12))


def choose_locations(households: Deciders, places: PlaceInputs, params: Mapping[str, float],
                     u: np.ndarray) -> np.ndarray:
    """Nested-logit location choice of every deciding household, drawn by inverse CDF.

    Parameters
    ----------
    households : Deciders
        ``n`` deciding households (columns of shape (n,)).
    places : PlaceInputs
        This year's place-level inputs.
    params : mapping of str to float
        Model parameters (``parameters.csv``): ``asc_*``, ``beta_*``, ``distance_income_ratio``,
        ``household_other_income_yuan``, ``distance_outside_km``, ``service_access_outside``,
        ``stay_*``, ``rc_*``, ``nest_lambda_urban``.
    u : numpy.ndarray, shape (n,)
        One uniform draw in [0, 1) per household.

    Returns
    -------
    numpy.ndarray of int8, shape (n,)
        Chosen alternative: 0 village, 1 town, 2 county seat, 3 outside.

    Notes
    -----
    Utility of alternative ``j`` (place ``p_j``) for household ``h`` (model.md §4)::

        V_hj = ASC_j + β_y ln(n_workers_h · y_pj + other_h) − r_d β_y ln(1 + d_hj)
               + β_net net_vj + β_A A_pj − β_C C_pj + β_S trigger_h q_j + β_H access_hj
               − β_L tie_h 1[j ∉ {0, current}] − β_P ln price_j 1[j ∈ {1, 2}, j ≠ current]
               + 1[j = current] (stay(youngest_h) + offset_seat 1[j = 2])

    with nests {village}, {town, seat} (λ = ``nest_lambda_urban``), {outside}; the town is not
    available in township 0. Probabilities as :func:`nested_logit_probabilities`, the draw as
    :func:`draw_choice`, with the same floating-point operations in the same order, so the
    result is identical to those functions applied to the ``(n, 4)`` utility matrix.
    The terms shared by households of the same village, base, number of workers and land
    rental are computed once per such group (:func:`location_utilities`); the household terms,
    the probabilities and the draw are compiled passes over the households
    (:func:`urban_sim.population.choice_kernels.nested_logit_draw`) with NumPy's ``exp`` and
    ``log`` between them (``tests/test_kernels_choice.py`` compares them with the NumPy column
    passes they replaced). ``benchmarks/mesa_reference.py`` is the same rule written one
    household at a time.
    """
    if len(u) == 0:
        return np.zeros(0, dtype=np.int8)
    return kc.nested_logit_draw(_utility_args(households, places, params), params["nest_lambda_urban"], u)


def location_utilities(households: Deciders, places: PlaceInputs,
                       params: Mapping[str, float]) -> list[np.ndarray]:
    """Utilities ``V_hj`` of :func:`choose_locations`.

    Returns
    -------
    list of numpy.ndarray
        Four columns of shape (n,), one per alternative (village, town, county seat,
        outside); ``-inf`` for the town of households in township 0 (not available).

    Notes
    -----
    The terms up to congestion depend only on (current, rented, n_workers, village): they are
    computed once per such group (all ``3 · 2 · (max n_workers + 1) · n_villages`` of them)
    where households are at least as many as the groups, else once per household, from the income terms by place (NumPy's ``log`` of
    ``2 · (max n_workers + 1) · (2K + 1)`` values) and the distance terms by village
    (:func:`_utility_args`). One compiled pass
    (:func:`urban_sim.population.choice_kernels.utilities`) computes and gathers them and adds
    the household terms in the order of the utility; a term that is zero for a household is
    added as ``+ 0.0`` (a mask multiplied in), as the column-by-column NumPy version did, so
    every sum is bit-identical to the ``(n, 4)`` formula.
    """
    return list(kc.utilities(_utility_args(households, places, params), len(households)))


_STAY_KEYS = ("rc_mu2", "rc_lambda2", "rc_alpha2", "stay_kappa0", "stay_kappa1", "stay_seat_offset")
_RUN_KEYS = ("distance_income_ratio", "beta_income", "distance_outside_km", "asc_town", "asc_seat",
             "asc_outside", "household_other_income_yuan", *_STAY_KEYS)
_run_values = operator.itemgetter(*_RUN_KEYS)
_RUN: dict = {}


def read_only(*arrays: np.ndarray) -> None:
    """Make a model's geography arrays read-only (the model's choice phase does, every year):
    :func:`choose_locations` then keeps the terms computed from them for the run without
    comparing their contents every year (a change in place would raise; a new array is seen).
    Only arrays that own their data are trusted so: a read-only view of a writeable base is
    still compared by its contents."""
    for a in arrays:
        if a.flags.writeable:  # (reading the flag costs less than setting it)
            a.flags.writeable = False


def _run_tables(pl: PlaceInputs, p: Mapping[str, float]) -> tuple:
    """The inputs of :func:`_utility_args` that are the same in every year of a run (read-only).

    Found by the parameters' values and the identities of the geography arrays (village
    centre, village seat and township seat distances, village townships), which the entry
    holds (so an identity is not reused while it is kept). A model's arrays are read-only
    (:meth:`urban_sim.model.CountyModel.location_choice`): then the entry is used as it is;
    arrays that can be written are compared by their contents, and a change computes it again.
    New arrays (a new model) are looked up by their contents and the parameters' values (the
    tables are shared by the models of one county and parameter set).

    Returns
    -------
    tuple of numpy.ndarray
        Distance terms ``c_dist · ln(1 + d)`` by village, current alternative and alternative
        (n_vil, 3, 4); places of the alternatives of each village (village area, township
        centre, county seat, outside; int64, (n_vil, 4)); the alternative constants (4,); the
        other income without and with land rented out (2,); the stay terms by alternative
        and age (:func:`stay_utility_by_age`, + offset at the county seat; (3, 201)).
    """
    g0, g1, g2, g3 = geo = (pl.village_centre_km, pl.village_seat_km, pl.township_seat_km,
                            pl.village_township)
    values = _run_values(p)
    global _LAST
    last = _LAST  # the same model as in the last call (unrolled: a year's usual case)
    if (last is not None and last[0] is g0 and last[1] is g1 and last[2] is g2
            and last[3] is g3 and last[4] == values and not (
                _changeable(g0) or _changeable(g1) or _changeable(g2) or _changeable(g3))):
        return last[5]
    key = (values, *map(id, geo))
    hit = _RUN.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], geo, strict=True)):
        if not any(map(_changeable, geo)) or hit[1] == _contents(geo):
            _LAST = (*geo, values, hit[2])
            return hit[2]
    if len(_RUN) > 16:
        _RUN.clear()
        _BY_CONTENT.clear()
    contents = _contents(geo)  # models of the same county share the tables
    tables = _BY_CONTENT.get((values, contents))
    if tables is None:
        tables = _BY_CONTENT[(values, contents)] = _compute_run_tables(geo, p)
        for a in tables:
            a.setflags(write=False)
    _RUN[key] = (geo, contents, tables)
    _LAST = (*geo, values, tables)
    return tables


_BY_CONTENT: dict = {}
_LAST: tuple | None = None
"""The last model's geography arrays, parameter values and tables (one tuple, replaced whole)."""


def _changeable(a: np.ndarray) -> bool:
    """Whether ``a``'s contents can change without a write to ``a`` raising: ``a`` is
    writeable, or a view (its base may be writeable; :func:`read_only` marks the view only)."""
    return a.flags.writeable or a.base is not None


def _contents(arrays: tuple) -> tuple:
    return tuple((a.dtype.str, a.shape, a.tobytes()) for a in map(np.asarray, arrays))


def _compute_run_tables(geo: tuple, p: Mapping[str, float]) -> tuple:
    d_vc, d_vs, d_ts, vt = map(np.asarray, geo)
    vt = vt.astype(np.int64)
    K = len(d_ts)
    d_ts = d_ts[vt]
    zero = 0 * d_vc
    d_out = np.full_like(d_vc, p["distance_outside_km"])
    dist = (np.stack([zero, d_vc, d_vs]), np.stack([d_vc, zero, d_ts]),
            np.stack([d_vs, d_ts, zero]), np.stack([d_out, d_out, d_out]))
    c_dist = p["distance_income_ratio"] * p["beta_income"]
    distance = np.stack([c_dist * np.log1p(dist[j]) for j in range(4)])  # (j, current, village)
    places = np.stack([K + vt, vt, np.zeros_like(vt), np.full_like(vt, 2 * K)], axis=1)
    o = p["household_other_income_yuan"]  # × (1 + 0.5 rented): × 1.0 and × 1.5
    # staying: stay(youngest adult) at the current alternative (+ offset at the county seat;
    # row j is added at alternative j when j is current, 0.0 at the others)
    stay = np.stack([stay_utility_by_age(p) + (p["stay_seat_offset"] if j == ALT_SEAT else 0.0)
                     for j in range(3)])
    return (np.ascontiguousarray(distance.transpose(2, 1, 0)), places,
            np.array([0.0, p["asc_town"], p["asc_seat"], p["asc_outside"]]),
            np.array([o * 1.0, o * 1.5]), stay)


def _utility_args(households: Deciders, places: PlaceInputs, params: Mapping[str, float]) -> tuple:
    """Tables and household columns for the compiled utility pass of :func:`location_utilities`.

    The inputs of the group terms (terms up to congestion: ``ln(n_workers · y + other)`` by
    rented, workers and place, the alternative constants and ``β_y``; distance terms; the place
    terms and their coefficients) and every scalar or small table of the household terms, the
    ``log``/``log1p`` by NumPy exactly as before: the compiled pass only multiplies by
    coefficients, gathers, adds and subtracts, the same operations in the same order as NumPy's
    broadcasting over all groups did (a village's term is that of its place, so ``log`` by
    place gives the same values). Inputs the same in every year of a run are kept
    (:func:`_run_tables`).
    """
    p, pl, h = params, places, households
    distance, vp, asc, other, stay_tab = _run_tables(pl, p)
    # ---- terms up to congestion by (current, rented, n_workers, village), computed in the
    # compiled pass for the groups that occur: income term ASC_j + β_y ln(n_workers · y + other)
    # by rented, n_workers and place (the place of alternative j of a village: its village
    # area, its township's centre, the county seat, outside; ASC_j + β_y x taken in the
    # compiled pass), distance term (village, current, alternative); then the network,
    # amenity and congestion terms are added and subtracted in this order, as NumPy's
    # broadcasting did
    log_income = kc.income_arguments(h.n_workers, pl.income_yuan, other)
    np.log(log_income, out=log_income)
    # ---- household terms, in the order of the utility (see choose_locations), as Python
    # floats or the compiled pass's products: school β_S q_j; service access (β_SA access of
    # the rural hukou, β_SA · 1.0 of the urban); land tie β_L tie, tie = tied (1 − 0.5 rented)
    # (1 − 0.5 land_reform), on moving to 1, 2, 3 (by rented: β_L ((1 · 1.0) x), β_L ((1 · 0.5) x),
    # x = 1 − 0.5 land_reform); price β_P ln price_j of a dwelling on moving to a town or the
    # county seat
    b_sa = p["beta_service_access"]
    x, b_l = 1 - 0.5 * pl.land_reform, p["beta_land"]
    return (log_income, asc, p["beta_income"], distance, vp,
            np.asarray(pl.network_share, dtype=float), p["beta_network"], pl.amenity,
            p["beta_amenity"], pl.congestion, p["beta_congestion"], h.village, h.current,
            h.n_workers, h.land_rented, h.land_tied, h.hukou_urban, h.school_trigger,
            h.youngest_adult_age, stay_tab, p["beta_school"],
            np.asarray(pl.school_quality, dtype=float), b_sa * 1.0, b_sa * pl.hukou_service_access,
            b_sa * 1.0, b_sa * p["service_access_outside"], b_l * (1.0 * x), b_l * (0.5 * x),
            p["beta_price"], np.log(np.asarray(pl.housing_price_yuan_m2, dtype=float)))
