"""Tests of the science (issue 10 item 6): each compares the model with an observation, a
literature range or a property any credible projection must have, and can fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from urban_sim.model import CountyModel
from urban_sim.services.stocks import (
    GROUP_OF_STOCK, LOWER_IS_BETTER, NEW_BUILDING_SHARES, SHARE_STOCKS, compare_with_table,
)

from .conftest import scenario

NOT_BACKCAST = {
    "housing_units_seat": "dwellings start from simulated occupied households, not from stocks.csv",
    "housing_units_towns": "dwellings start from simulated occupied households, not from stocks.csv",
    "scenic_mining_road_coverage": "the Yellow River No. 1 tourism road (2019-20) was a provincial "
                                   "project, not funded from the county budget the model simulates",
}
"""Stocks exempt from the backcast, with the reason (keep this list short and shrinking)."""


def county(ts: pd.DataFrame) -> pd.DataFrame:
    return ts[ts["place"] == "county"].pivot(index="year", columns="indicator", values="value")


def run(lin_data, name="baseline", seed=1, **over):
    m = CountyModel(scenario(name, **{"scale": 0.02, **over}), data=lin_data, seed=seed)
    try:
        return m, county(m.run())
    finally:
        m.close()


@pytest.mark.parametrize("seed", [3])
def test_backcast_2010_to_2020_every_stock_inside_its_observed_range(lin_data, seed):
    """Baseline started in 2010: every stock with a 2020 row in stocks.csv lies in [low, high]
    in 2020 (programmes start when their national programme began, bounded stocks have
    diminishing returns and depreciate)."""
    m = CountyModel(scenario(start_year=2010, end_year=2020, scale=0.05), data=lin_data, seed=seed)
    m.run()
    table = lin_data.stocks[lin_data.stocks["year"] == 2020]
    table = table[~table["stock"].isin(list(NOT_BACKCAST))]
    got = compare_with_table(m.stocks, m.groups, table)
    m.close()
    assert len(got) >= 50
    outside = got[~got["inside"]]
    assert outside.empty, "\n" + outside.to_string()


MAY_COMPLETE = {
    "municipal_safety_survey_done": "a one-off survey; the national risk census it belongs to was "
                                    "completed in 2022",
    "water_source_zones_delineated": "a one-off administrative delineation (national drive from "
                                     "2018) that the plan expects complete by 2025; at 0.99 in "
                                     "2026 on main already (0.9897), pushed over by any small "
                                     "change in the infrastructure money it competes for",
}
"""Bounded stocks that may reach 1 before 2027, with the reason."""


def test_no_bounded_index_saturates_in_the_baseline_before_2027(lin_data):
    _, c = run(lin_data, end_year=2026)
    for name in sorted((SHARE_STOCKS | set(NEW_BUILDING_SHARES)) - set(MAY_COMPLETE)):
        col = next((k for k in (name, name.replace("_served", "")) if k in c.columns), None)
        if col is None:
            continue
        v = c[col].to_numpy()
        if name in LOWER_IS_BETTER:
            assert (v > 0.02).all(), name
        else:
            assert (v < 0.99).all(), (name, v)


def test_talent_return_index_and_return_hazard_stay_in_their_literature_range(lin_data):
    """Baseline return rate (returns / members living outside) near the ~1.5 %/yr of the
    literature (22.3 % of migrants returned over 1998-2015), and the assumed talent-return
    index stays low. The calibration has the 2020 return rate as a moment (1.5 % ± 0.3 pp,
    observations.csv); its fit is 1.0 % (z = -1.5: more returns conflict with the census
    residents and the 60+ band), and the projection keeps 0.9-1.0 %, so the band checked here
    is 0.8-2 % a year."""
    m, c = run(lin_data, end_year=2035)
    rate = (c["returns"] / c["outside_population"].shift(1)).loc[2021:2035]
    assert 0.008 <= rate.mean() <= 0.02, rate.round(4).tolist()
    assert (c["return_rate"].loc[2021:2035] - rate).abs().max() < 1e-12  # the declared output
    assert m.stocks["talent_return_support"] <= 0.3


def test_plan_beats_baseline_on_paired_differences_with_a_minimum_effect(lin_data):
    """Plan minus baseline, common random numbers (same seeds), 2027: the plan's extra money
    must move its targets by at least a stated amount, in every replicate."""
    for seed in (1, 2):
        _, b = run(lin_data, seed=seed, end_year=2027)
        _, p = run(lin_data, "plan", seed=seed, end_year=2027)
        b, p = b.loc[2027], p.loc[2027]
        assert p["investment_total"] - b["investment_total"] > 400
        assert p["lifeline_monitoring_coverage"] - b["lifeline_monitoring_coverage"] >= 0.05
        assert p["reclaimed_water_rate"] - b["reclaimed_water_rate"] >= 0.05
        assert b["water_leakage_rate"] - p["water_leakage_rate"] >= 0.003
        assert p["coverage_5g"] - b["coverage_5g"] >= 0.02


def test_more_money_for_a_task_area_never_lowers_its_stocks(lin_data):
    """Monotonicity (issue 10 item 6): 200 million yuan a year more for one task area from the
    policy start, every other area's amount unchanged, common random numbers: in 2027 no
    stock funded by that area is worse than in the baseline (lower, or higher where lower is
    better). A served capacity is compared as its ratio to the group it serves (capacity
    follows demand: its amount falls with the group, e.g. special-education seats). After the
    session-6 start-state draw no served ratio fell at seeds 4-7 either; a case where more
    money attracts more of the group faster than capacity follows would show here, to be
    examined rather than tolerated by a looser criterion."""
    progs = lin_data.programmes
    base_sc = scenario("baseline", scale=0.02, end_year=2027)
    inv = base_sc.policy.investment
    total, shares = inv.total_million_yuan, inv.task_area_shares.model_dump()

    def stocks(**over):
        m = CountyModel(scenario("baseline", scale=0.02, end_year=2027, **over), data=lin_data, seed=4)
        m.run()
        m.close()
        # served capacities as shares of the group they serve (capacity follows demand)
        return {k: v / max(m.groups[GROUP_OF_STOCK[k]], 1e-9) if k in GROUP_OF_STOCK else v
                for k, v in m.stocks.value.items()}

    base = stocks()
    extra, checked = 200.0, 0
    for area in shares:
        new_total = total + extra
        over = {f"policy.investment.task_area_shares.{a}":
                (s * total + (extra if a == area else 0.0)) / new_total for a, s in shares.items()}
        got = stocks(**{"policy.investment.total_million_yuan": new_total, **over})
        for name in sorted(set(progs.loc[progs["task_area"] == area, "stock"]) & set(base)):
            sign = -1.0 if name in LOWER_IS_BETTER else 1.0
            tol = 2e-3 if name in GROUP_OF_STOCK else 1e-6 * max(abs(base[name]), 1.0)
            assert sign * (got[name] - base[name]) >= -tol, (
                area, name, base[name], got[name])
            checked += 1
    assert checked >= 40


def test_headline_means_at_scale_0_2_are_within_1_percent_of_full_scale(lin_data):
    """Scale invariance (issue 10 item 6): baseline 2020 -> 2027, mean of 6 seeds at scale 0.2
    against 2 seeds at full scale (sensitivity and calibration searches run at coarse scales)."""
    def mean(scale, seeds):
        rows = []
        for seed in seeds:
            _, c = run(lin_data, seed=seed, scale=scale, end_year=2027)
            rows.append(c.loc[2027, ["resident_population", "urbanization_rate",
                                     "county_seat_population", "jobs_nonfarm"]])
        return pd.DataFrame(rows).mean()
    coarse, full = mean(0.2, range(60, 66)), mean(1.0, (60, 61))
    rel = (coarse / full - 1).abs()
    assert (rel < 0.01).all(), rel.round(4).to_dict()
