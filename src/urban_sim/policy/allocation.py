"""Inputs of the government's allocation rule: programme need, room left in each stock, and the
distribution of a programme's jobs over places (docs/ODD.md §7.2)."""

from __future__ import annotations

import numpy as np

from urban_sim.services.stocks import NEW_BUILDING_SHARES, Stocks


def programme_need(stocks_of_programmes: list[str], indicator_of_stock: dict[str, str],
                   targets: list, values: dict[str, float], year: int,
                   use: dict[str, float]) -> np.ndarray:
    """Need factor of every programme, shape (n_programmes,).

    0.1 (maintenance) when every target of the programme's indicator still ahead is met (after
    the last target year: the last one), else 1; capacity programmes ``clip(use / 0.9, 0.2, 2)``
    with ``use`` their utilisation.
    """
    need = np.ones(len(stocks_of_programmes))
    by_indicator: dict[str, list] = {}  # the targets of each indicator, in table order
    for t in targets:
        by_indicator.setdefault(t.indicator, []).append(t)
    met: dict[str, bool] = {}  # indicator → every target still ahead is met (once per call)
    for i, stock in enumerate(stocks_of_programmes):
        if stock in use:
            need[i] = min(max(use[stock] / 0.9, 0.2), 2.0)  # np.clip of a scalar, without its overhead
            continue
        ind = indicator_of_stock.get(stock)
        if ind is None:
            continue
        if ind not in met:
            mine = by_indicator.get(ind, [])
            ahead = [t for t in mine if t.year >= year] or mine[-1:]
            met[ind] = bool(ahead) and all(t.met(values[ind]) for t in ahead)
        if met[ind]:
            need[i] = 0.1
    return need


def programme_room(stocks: Stocks, programme_stocks: list[str], groups: dict[str, float],
                   site_counts: dict[str, float], standard: dict[str, float],
                   new_m2: float) -> dict[str, float]:
    """Nominal amount each programme stock can still usefully take (:meth:`Stocks.room`; sites
    left for counted facilities; thousand m² of new floor area not yet meeting the standard)."""
    room = {name: stocks.room(name, groups) for name in set(programme_stocks) if name in stocks.value}
    room.update({name: max(n - stocks[name], 0.0) for name, n in site_counts.items()})
    for name in NEW_BUILDING_SHARES:  # programme units are 1000 m² of funded floor area
        room[name] = (1.0 - standard[name]) * new_m2 / 1000.0
    return room


def place_weights(residents: np.ndarray, place_type: np.ndarray,
                  qikou_place: np.ndarray) -> dict[str, np.ndarray]:
    """Distribution over in-county places of each programme ``place`` key (each sums to 1).

    Parameters
    ----------
    residents : numpy.ndarray, shape (n_places,)
    place_type : numpy.ndarray of int, shape (n_places,)
        0 county seat, 1 town centre, 2 village area.
    qikou_place : numpy.ndarray of bool, shape (n_places,)
    """
    n = len(residents)

    def norm(mask):
        w = np.where(mask, residents, 0.0)
        if w.sum() <= 0:
            w = mask.astype(float)
        return w / w.sum()
    seat = np.zeros(n)
    seat[0] = 1.0
    towns = norm(place_type == 1)
    return {"county_seat": seat, "county": norm(np.ones(n, bool)), "towns": towns,
            "villages": norm(place_type == 2),
            "qikou_towns": norm(qikou_place) if qikou_place.any() else towns}
