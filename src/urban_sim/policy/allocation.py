"""Inputs of the government's allocation rule: programme need, room left in each stock, and the
distribution of a programme's jobs over places (docs/ODD.md §7.2)."""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from urban_sim.services.stock_kernels import _need
from urban_sim.services.stocks import NEW_BUILDING_SHARES


USE_STOCKS = ("school_seats_seat", "housing_units_seat", "housing_units_towns", "hospital_beds")
"""Stocks of the capacity programmes, whose need follows the utilisation of the capacity (the
``use`` argument of :meth:`Need.__call__`, in this order)."""


class Need:
    """Need factor of every programme (docs/ODD.md §7.2), prepared once for a target list.

    0.1 (maintenance) when every target of the programme's indicator still ahead is met (after
    the last target year: the last one, in table order), else 1; capacity programmes
    (:data:`USE_STOCKS`) ``clip(use / 0.9, 0.2, 2)`` with ``use`` their utilisation.

    Parameters
    ----------
    stocks_of_programmes : list of str
        Stock of each programme.
    indicator_of_stock : dict[str, str]
        Target indicator that each stock moves.
    targets : list of urban_sim.targets.Target
    """

    def __init__(self, stocks_of_programmes: list[str], indicator_of_stock: dict[str, str],
                 targets: list) -> None:
        has_targets = {t.indicator for t in targets}
        ind = [None if s in USE_STOCKS else indicator_of_stock.get(s) for s in stocks_of_programmes]
        self.indicators = list(dict.fromkeys(i for i in ind if i in has_targets))
        pos = {name: j for j, name in enumerate(self.indicators)}
        # position of each programme's indicator; the extra last position (programmes without
        # an indicator with targets) is never met
        self.programme_indicator = np.array([pos.get(i, len(pos)) for i in ind], dtype=np.intp)
        self.use = [(i, USE_STOCKS.index(s)) for i, s in enumerate(stocks_of_programmes)
                    if s in USE_STOCKS]
        self.use_row = np.array([i for i, _ in self.use], dtype=np.int64)  # self.use as arrays
        self.use_k = np.array([k for _, k in self.use], dtype=np.int64)
        mine = [t for t in targets if t.indicator in pos]
        last = {t.indicator: k for k, t in enumerate(mine)}  # last in table order
        final = {i: max(t.year for t in mine if t.indicator == i) for i in pos}
        self.target_indicator = np.array([pos[t.indicator] for t in mine], dtype=np.intp)
        self.target_year = np.array([t.year for t in mine])
        # the last target of an indicator counts after its last target year
        self.stays = np.array([last[t.indicator] == k for k, t in enumerate(mine)])
        self.final_year = np.array([final[t.indicator] for t in mine])
        # Target.met as low ≤ value + shift_low and value + shift_high ≤ high: ``>=`` adds
        # 1e-9 to the value, ``<=`` subtracts it, ``between`` compares the value with
        # [target − 1e-9, target_high + 1e-9]; NaN is never met
        self.shift_low = np.array([1e-9 if t.operator == ">=" else 0.0 for t in mine])
        self.shift_high = np.array([-1e-9 if t.operator == "<=" else 0.0 for t in mine])
        self.low = np.array([t.target if t.operator == ">=" else
                             (-np.inf if t.operator == "<=" else t.target - 1e-9) for t in mine])
        self.high = np.array([t.target if t.operator == "<=" else
                              (np.inf if t.operator == ">=" else t.target_high + 1e-9)
                              for t in mine])
        self._ahead: dict[int, np.ndarray] = {}  # year → targets still ahead
        # the indicator values in order, as a tuple (an itemgetter of one name gives the value)
        self._get = operator.itemgetter(*self.indicators) if len(self.indicators) > 1 else None

    def __call__(self, values: dict[str, float], year: int, use: list[float]) -> np.ndarray:
        """Need factor of every programme, shape (n_programmes,).

        Parameters
        ----------
        values : dict[str, float]
            Indicator values (:func:`urban_sim.targets.indicator_values`).
        year : int
        use : list of float
            Utilisation of each capacity of :data:`USE_STOCKS`, in that order.
        """
        need = _need(self.indicator_array(values), self.target_indicator, self.ahead(year),
                     self.low, self.shift_low, self.shift_high, self.high,
                     self.programme_indicator)
        for i, k in self.use:
            need[i] = min(max(use[k] / 0.9, 0.2), 2.0)  # np.clip of a scalar, without its overhead
        return need

    def ahead(self, year: int) -> np.ndarray:
        """Targets still ahead in ``year`` (the last of an indicator also after its last
        year), shape (n_targets,) of bool; shared by the calls of a year: not modified."""
        ahead = self._ahead.get(year)
        if ahead is None:
            ahead = self._ahead[year] = (self.target_year >= year) | (self.stays & (self.final_year < year))
        return ahead

    def indicator_array(self, values: dict[str, float]) -> np.ndarray:
        """The values of :attr:`indicators` in order, shape (n_indicators,) of float.

        Parameters
        ----------
        values : dict[str, float]
            Indicator values (:func:`urban_sim.targets.indicator_values`).
        """
        return np.array(self.indicator_values(values), dtype=float)

    def indicator_values(self, values: dict[str, float]) -> tuple | list:
        """The values of :attr:`indicators` in order (a tuple, or a list for fewer than two).

        Parameters
        ----------
        values : dict[str, float]
            Indicator values (:func:`urban_sim.targets.indicator_values`).
        """
        get = self._get
        return get(values) if get else [values[i] for i in self.indicators]




PLACE_ROWS = ("county_seat", "county", "towns", "villages", "qikou_towns")
"""Programme ``place`` keys, in the row order of :func:`place_weight_rows`."""


def place_weight_rows(residents: np.ndarray, place_type: np.ndarray,
                      qikou_place: np.ndarray) -> np.ndarray:
    """Distribution over in-county places of each programme ``place`` key, one row per key of
    :data:`PLACE_ROWS` (each sums to 1), shape (5, n_places).

    Parameters
    ----------
    residents : numpy.ndarray, shape (n_places,)
    place_type : numpy.ndarray of int, shape (n_places,)
        0 county seat, 1 town centre, 2 village area.
    qikou_place : numpy.ndarray of bool, shape (n_places,)

    Notes
    -----
    Each row is the residents of its places over their sum, evenly over its places when nobody
    lives there. The county seat's row is the same rule over place 0 alone: ``r / r`` is exactly
    1 and ``0 / r`` exactly 0, so it is 1 at place 0 and 0 elsewhere, computed with the other
    rows in one division.
    """
    masks = place_masks(place_type, qikou_place)
    w = np.where(masks, residents, 0.0)
    total = w.sum(axis=1)  # each row summed as a 1-d array would be
    for r, t in enumerate(total.tolist()):
        if t <= 0:  # nobody there: evenly over the places
            w[r] = masks[r]
            total[r] = w[r].sum()
    w /= total[:, None]
    return w


def place_masks(place_type: np.ndarray, qikou_place: np.ndarray) -> np.ndarray:
    """The places of each row of :func:`place_weight_rows`, shape (5, n_places) of bool
    (read-only, shared by every call with the same places; arguments as there)."""
    return _place_masks(place_type.tobytes(), place_type.dtype.str, qikou_place.tobytes())


@functools.lru_cache(maxsize=16)
def _place_masks(place_type: bytes, dtype: str, qikou_place: bytes) -> np.ndarray:
    """The places of each row of :func:`place_weight_rows` (the county seat, all, towns,
    villages, Qikou towns or all towns when there are none), read-only: shared by every call
    with the same places."""
    place_type = np.frombuffer(place_type, dtype=dtype)
    qikou = np.frombuffer(qikou_place, dtype=bool)
    n = len(place_type)
    towns = place_type == 1
    seat = np.zeros(n, bool)
    seat[0] = True
    masks = np.stack([seat, np.ones(n, bool), towns, place_type == 2,
                      qikou if qikou.any() else towns])
    masks.flags.writeable = False
    return masks


def new_building_share(standard: float, funded_m2: float, new_m2: float) -> float:
    """Share of new floor area meeting a standard: the share required by regulation without
    public money, plus the funded floor area over the rest (0–1)."""
    funded = min(1.0, funded_m2 / new_m2) if new_m2 > 0 else 0.0
    return standard + (1.0 - standard) * funded


def adoption_standard(year: int, start: int, rate: float, ceiling: float) -> float:
    """Share required or customary without public funding: ``ceiling·(1 − e^{−rate·(t−start)})``
    after ``start`` (0 before); a diffusion curve fitted to the provincial shares
    (parameters.csv)."""
    return ceiling * (1.0 - math.exp(-rate * max(year - start, 0)))


def building_standards(params: dict[str, float], year: int) -> dict[str, float]:
    """Share of new floor area meeting each standard without county money
    (:func:`adoption_standard` with the ``<share>_standard_*`` parameters)."""
    return {name: adoption_standard(year, params[start], params[rate], params[ceiling])
            for name, start, rate, ceiling in STANDARD_KEYS}


STANDARD_KEYS = tuple((name, f"{name}_standard_start_year", f"{name}_standard_rate",
                        f"{name}_standard_ceiling") for name in NEW_BUILDING_SHARES)
"""Each new-building share and the names of its standard's parameters (:func:`building_standards`)."""
