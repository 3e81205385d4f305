"""The yearly outputs' cheaper paths (issue 12, session 11) against the rules they replace: the
tally's arrays kept by the model and the stock checks made only when a stock is missing."""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.config import load_scenario
from urban_sim.errors import DataError
from urban_sim.model import CountyModel

_TALLIED = ("residents", "labour_force", "occupied", "housing_use_all", "housing_use",
            "old_by_place")


def _model(lin_data, **over):
    sc = load_scenario("baseline", {"scale": 0.01, "start_year": 2020, "end_year": 2022, **over})
    return CountyModel(sc, data=lin_data, seed=3)


def test_tally_overwrites_every_entry_of_the_arrays_it_keeps(lin_data):
    """The tally writes every entry of the arrays the model keeps from tally to tally (the
    same objects): filled with garbage, a tally of the same counts gives the values of a
    tally into fresh arrays; a step changes them in place."""
    from urban_sim.model.tally import tally

    m = _model(lin_data)
    try:
        counts = tally(m)
        fresh = {k: getattr(m, k).copy() for k in _TALLIED}
        kept = {k: getattr(m, k) for k in _TALLIED}
        groups = dict(m.groups)
        out, old, sums, _ = m._tally_out
        out.fill(np.nan)
        old.fill(-7)
        sums.fill(np.inf)
        tally(m, counts)
        for k in _TALLIED:
            a = getattr(m, k)
            assert a is kept[k], k
            assert a.dtype == fresh[k].dtype and np.array_equal(a, fresh[k], equal_nan=True), k
        assert m.groups == groups
        del m._tally_out  # fresh arrays: the same values
        tally(m, counts)
        for k in _TALLIED:
            assert getattr(m, k) is not kept[k] and np.array_equal(getattr(m, k), fresh[k]), k
        assert m.housing_use.base is m.housing_use_all.base is m.residents.base
        m.step()
        before = m.residents.copy()
        ident = m.residents
        m.step()
        assert m.residents is ident and not np.array_equal(m.residents, before)
    finally:
        m.close()


@pytest.mark.parametrize("gone", ["flood_safety", "seat_road_km", "hospital_beds"])
def test_collect_names_a_missing_stock(lin_data, gone):
    """A stock that collect reads (its own rows or the Lüliang comparison) missing from the table
    is a DataError naming it, as when collect checked the stocks every year."""
    from urban_sim.model.collect import collect

    m = _model(lin_data)
    try:
        del m.stocks.value[gone]
        with pytest.raises(DataError, match=f"no stock named '{gone}'"):
            collect(m, True)
    finally:
        m.close()


def test_ratio_row_names_a_missing_stock():
    """RatioDecomposition.row checks its stocks only when one is missing: a DataError naming
    the first missing one (in the order of RATIO_PARTS); a missing group stays a KeyError."""
    from urban_sim.services.stocks import Stocks
    from urban_sim.targets import RATIO_PARTS, RatioDecomposition

    names = [n for n, _ in RATIO_PARTS.values()]
    g = {d: 1.0 for _, d in RATIO_PARTS.values()}
    stocks = Stocks.__new__(Stocks)
    for gone in (names[0], names[-1], names[3:5]):
        gone = [gone] if isinstance(gone, str) else gone
        stocks.value = {n: 2.0 for n in names if n not in gone}
        with pytest.raises(DataError, match=f"no stock named '{gone[0]}'"):
            RatioDecomposition(2020).row(2021, stocks, g)
    stocks.value = {n: 2.0 for n in names}
    with pytest.raises(KeyError):
        RatioDecomposition(2020).row(2021, stocks, {})
    assert len(RatioDecomposition(2020).row(2021, stocks, g)) == 3 * len(names)
