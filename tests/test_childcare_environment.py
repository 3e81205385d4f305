"""Childcare from the simulated 0–3 population and the split environment (issue 11): each test
compares paired runs (same seed) and can fail."""

from __future__ import annotations

import numpy as np
import pandas as pd

from urban_sim.model import CountyModel
from urban_sim.services.stocks import ENVIRONMENT_PARTS

from .conftest import scenario

PARTS = ("flood_safety", *ENVIRONMENT_PARTS)


def county(lin_data, seed=5, **over):
    m = CountyModel(scenario("baseline", **{"scale": 0.02, **over}), data=lin_data, seed=seed)
    try:
        ts = m.run()
    finally:
        m.close()
    return ts[ts["place"] == "county"].pivot(index="year", columns="indicator", values="value")


def places(c: pd.DataFrame) -> pd.Series:
    return c["childcare_places_per_1000"] * c["resident_population"] / 1000


def test_childcare_places_follow_the_children_aged_0_3(lin_data):
    """Twice the fertility from 2025 (policy start) → more children aged 0–3, more places sought
    and more places (inclusive and private) by 2030; places never run far ahead of demand."""
    base = county(lin_data, end_year=2030)
    high = county(lin_data, end_year=2030, **{"uncertainties.fertility_multiplier": 2.0})
    assert np.allclose(base.loc[:2024, "childcare_demand"], high.loc[:2024, "childcare_demand"], rtol=0.02)
    assert high.loc[2030, "childcare_demand"] > 1.3 * base.loc[2030, "childcare_demand"]
    assert places(high).loc[2030] > 1.15 * places(base).loc[2030]
    for c in (base, high):  # capacity built toward demand, not for children who are not there
        assert (places(c).loc[2022:] <= 1.5 * c.loc[2022:, "childcare_demand"]).all()
    assert high.loc[2030, "childcare_places_per_1000"] > base.loc[2030, "childcare_places_per_1000"]


def test_environment_parts_move_only_with_their_own_money(lin_data):
    """More investment (same shares) never lowers any part; more weight on clean heating raises
    the clean-heating share and lowers no other part's money outside the ecology area."""
    base = county(lin_data, end_year=2030)
    rich = county(lin_data, end_year=2030, **{"policy.investment.total_million_yuan": 900})
    heat = county(lin_data, end_year=2030,
                  **{"policy.investment.programme_weights": {"clean_heating": 5.0}})
    for name in PARTS:
        assert (rich.loc[2025:, name] >= base.loc[2025:, name] - 1e-9).all(), name
    assert (rich.loc[2030, list(ENVIRONMENT_PARTS)] > base.loc[2030, list(ENVIRONMENT_PARTS)]).all()
    assert heat.loc[2030, "clean_heating_share"] > base.loc[2030, "clean_heating_share"] + 0.03
    for name in PARTS:
        if name != "clean_heating_share":
            assert heat.loc[2030, name] <= base.loc[2030, name] + 1e-9, name
    # the parts are separate stocks: flood safety (infrastructure) is not bought with ecology
    # money; it moves only a little through the financing constraint (land revenue of new
    # county-seat dwellings, policy/financing.py)
    assert np.allclose(heat["flood_safety"], base["flood_safety"], atol=0.01)


def test_take_up_is_numpys_interpolation_read_once_a_year(lin_data):
    """Childcare.take_up: np.interp of the table, also from the process's memo on later calls
    and for a second model (the memo is shared while the file is unchanged)."""
    from urban_sim.services.childcare import Childcare

    a = Childcare(lin_data.data_dir)
    assert a.active
    years = range(2008, 2040)
    ref = [float(np.interp(y, a.years, a.take_up_values)) for y in years]
    assert len(set(ref)) > 3  # the schedule moves
    for _ in range(2):
        assert [a.take_up(y) for y in years] == ref
        b = Childcare(lin_data.data_dir)
        assert b._by_year is a._by_year and [b.take_up(y) for y in years] == ref
    assert a.demand(1000.0, 2030) == 1000.0 * ref[2030 - 2008]
