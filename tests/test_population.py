"""Synthetic population: census totals matched exactly, documented proxies respected."""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.model import CountyModel
from urban_sim.population.start_state import has_start_state, read_start_state
from urban_sim.population.state import LOC_OUTSIDE, Table
from urban_sim.population.synthesis import quota, synthesize

from .conftest import scenario


def test_quota_sums_exactly_and_is_proportional():
    counts = quota(np.array([0.2, 0.3, 0.5]), 7)
    assert counts.sum() == 7
    assert counts.tolist() == [1, 2, 4]  # 1.4, 2.1, 3.5 -> largest remainders go to 3.5 and 1.4
    assert quota(np.array([1.0, 1.0]), 0).tolist() == [0, 0]


@pytest.mark.parametrize("year, residents, urban, registered", [
    (2020, 394_713, 126_895, 620_000),
    (2010, 579_077, 115_815, 630_000),
])
def test_initial_population_equals_census_totals(lin_data, year, residents, urban, registered):
    rng = np.random.default_rng(1)
    params = lin_data.parameters
    persons, hh = synthesize(lin_data, year, scale=1.0, params=params, rng=rng)
    assert len(persons["age"]) == registered
    resident = persons["loc"] != LOC_OUTSIDE
    assert resident.sum() == residents
    model = CountyModel(scenario(start_year=year, end_year=year + 1, scale=1.0), data=lin_data, seed=1)
    ts = model.timeseries()
    county = ts[ts["place"] == "county"].set_index("indicator")["value"]
    model.close()
    if has_start_state(lin_data.data_dir, year):  # simulated history raked to the census
        meta = read_start_state(lin_data.data_dir, year)[-1]
        assert county["resident_population"] == pytest.approx(residents, rel=0.001)
        assert county["urban_population"] == pytest.approx(urban, rel=0.001)
        assert county["registered_population"] == pytest.approx(
            meta["weighted"]["registered"], rel=0.001)
        return
    assert county["resident_population"] == residents
    assert county["urban_population"] == urban
    assert county["registered_population"] == registered
    assert county["urbanization_rate"] == pytest.approx(urban / residents)


def test_resident_sex_and_household_size_follow_census_and_proxy(lin_data):
    persons, hh = synthesize(lin_data, 2020, scale=1.0, params=lin_data.parameters,
                             rng=np.random.default_rng(3))
    resident = persons["loc"] != LOC_OUTSIDE
    assert (~persons["female"][resident]).sum() == 208_697  # 2020 census males
    sizes = np.bincount(persons["hh"][resident])
    assert sizes.mean() == pytest.approx(2.44, abs=0.02)  # Lüliang family households 2020
    age = persons["age"][resident]
    assert np.mean(age >= 60) == pytest.approx(0.1671, abs=0.01)  # Lüliang 2020 60+


def test_scaled_population_reports_full_scale_totals(lin_data):
    model = CountyModel(scenario(scale=0.05, end_year=2021), data=lin_data, seed=2)
    ts = model.timeseries()
    county = ts[ts["place"] == "county"].set_index("indicator")["value"]
    assert county["resident_population"] == pytest.approx(394_713, rel=0.002)
    # sampling households from the start state at scale 0.05 spreads the urban total by about
    # ±1.5 % (seeds 1-8 with the start state of 2026-11-30); a scale error would be 20-fold
    assert county["urban_population"] == pytest.approx(126_895, rel=0.02)
    model.close()


def test_vital_rates_interpolate_between_table_years_and_hold_outside(lin_data):
    from urban_sim.population.demography import rate_by_age

    q10, q20 = (rate_by_age(lin_data.vital_rates, "mortality", y) for y in (2010, 2020))
    np.testing.assert_allclose(rate_by_age(lin_data.vital_rates, "mortality", 2015), (q10 + q20) / 2)
    np.testing.assert_array_equal(rate_by_age(lin_data.vital_rates, "mortality", 2035), q20)
    np.testing.assert_array_equal(rate_by_age(lin_data.vital_rates, "mortality", 2000), q10)
    assert q20[100] == q20[90] > 0  # the open-ended last group extends to the oldest age
    f = rate_by_age(lin_data.vital_rates, "fertility", 2020)
    assert f[:15].sum() == 0 and f[50:].sum() == 0 and 1.0 < f.sum() < 1.6  # TFR about 1.2


def test_table_columns_are_views_of_the_current_rows():
    """Column attributes read the first n rows of the current arrays, after appends that grow
    the arrays too; assigning writes into the column; copies and pickles read their own."""
    import copy
    import pickle

    t = Table({"a": np.arange(3.0), "b": np.ones(3, bool)})
    a_before = t.a
    rows = t.append(a=np.ones(2))  # grows the arrays; b, not given, gets zeros
    assert rows.tolist() == [3, 4] and len(t.a) == len(t.b) == len(t) == 5
    assert t.a.tolist() == [0, 1, 2, 1, 1] and not np.shares_memory(t.a, a_before)
    assert t.b.tolist() == [True] * 3 + [False] * 2
    t.append(a=np.full(1, 7.0))  # within the capacity: zeros there too
    assert t.a.tolist() == [0, 1, 2, 1, 1, 7] and t.b.tolist() == [True] * 3 + [False] * 3
    with pytest.raises(KeyError):
        t.append(a=np.ones(1), c=0)  # not a column: nothing written
    with pytest.raises(ValueError):
        t.append(a=np.ones(2), b=np.ones(3, bool))  # lengths differ: nothing written
    with pytest.raises(ValueError):
        t.extend(t._cap - len(t) + 1)  # more rows than reserved
    assert len(t) == 6 and not t._cols["a"][6:].any() and not t._cols["b"][6:].any()
    t.a = t.a * 2
    t.b[1] = False
    assert t.columns()["a"].tolist() == [0, 2, 4, 2, 2, 14] and not t.columns()["b"][1]
    for other in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        other.a[0] = -1.0
        other.append(b=np.ones(1, bool))
        assert other.columns()["a"][0] == -1.0 and len(other.a) == 7 and other.b[-1]
    assert t.a[0] == 0 and len(t) == 6
    with pytest.raises(AttributeError):
        t.missing
