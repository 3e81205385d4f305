"""The declared output catalogue (urban_sim.model.outputs) against the model and the plan data."""

from __future__ import annotations

import pandas as pd
import pytest

from urban_sim.model import CountyModel
from urban_sim.model.outputs import (
    OUTPUTS, ZONES, declare, investment_in, label, names, output, unit, unit_label,
)

from .conftest import scenario


@pytest.fixture(scope="module")
def tiny_run(lin_data):
    m = CountyModel(scenario("plan", scale=0.02, end_year=2026, seed=3), data=lin_data)
    try:
        return m.run()
    finally:
        m.close()


def test_every_collected_output_is_declared_and_every_declared_one_collected(tiny_run):
    collected = set(tiny_run["indicator"])
    assert collected - set(OUTPUTS) == set()
    assert set(OUTPUTS) - collected == set()


def test_outputs_appear_only_at_their_declared_place_levels(tiny_run):
    def level(place):
        return "county" if place == "county" else "zone" if place in ZONES else "township"
    seen = tiny_run.assign(level=tiny_run["place"].map(level))[["indicator", "level"]].drop_duplicates()
    for r in seen.itertuples():
        assert r.level in OUTPUTS[r.indicator].places, (r.indicator, r.level)
    declared = {(o.name, p) for o in OUTPUTS.values() for p in o.places}
    assert declared == set(zip(seen["indicator"], seen["level"], strict=True))


def test_target_indicators_match_the_plan_table(lin_data):
    plan = lin_data.plan_targets
    assert set(plan["indicator"]) == set(names(kind="target"))
    for r in plan.itertuples():
        o = OUTPUTS[r.indicator]
        assert o.task_area == r.task_area
        assert {"share": "share", "count": "count", "km/km2": "km_per_km2", "ratio": "ratio"}[r.unit] == o.unit
        want = {">=": "higher", "<=": "lower", "between": None}[r.operator]
        assert o.direction == want, r.indicator
        # the Chinese label is the plan's own wording of the indicator
        core = o.zh.replace("率", "").replace("比例", "")[:4]
        assert core in r.wording_zh, (o.zh, r.wording_zh)


def test_labels_units_and_lookup():
    assert label("urbanization_rate", "zh") == "常住人口城镇化率"
    assert label("seat_water_coverage", "en") == "County-seat public water supply coverage"
    assert label("county_seat", "zh") == "县城" and label("ecology", "zh") == "生态保护"
    assert label("临泉镇", "en") == "临泉镇"
    assert unit("investment_total") == "million_yuan_per_year"
    assert unit_label("resident_population", "zh") == "人"
    assert investment_in("ecology") in OUTPUTS
    with pytest.raises(KeyError, match="did you mean 'urbanization_rate'"):
        output("urbanisation_rate")
    with pytest.raises(ValueError, match="lang must be one of"):
        label("urbanization_rate", "fr")
    with pytest.raises(ValueError, match="declared twice"):
        declare("births", "persons_per_year", "flow", "Births", "出生")
    with pytest.raises(ValueError, match="kind 'level' not one of"):
        declare("new_thing", "persons", "level", "x", "x")
    assert "new_thing" not in OUTPUTS


def test_every_output_has_both_labels_and_zh_differs_from_en():
    for o in OUTPUTS.values():
        assert o.en and o.zh and o.en != o.zh, o.name
    assert isinstance(pd.Series(names(kind="flow")).iloc[0], str)
