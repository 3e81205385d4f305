"""Collection of the model's yearly outputs under the names of the output catalogue
(:mod:`urban_sim.model.outputs`): county totals, zones and townships, as long records."""

from __future__ import annotations

import math

import numpy as np

from urban_sim.config.schema import TASK_AREAS
from urban_sim.economy.labour import FARMING, UNEMPLOYED
from urban_sim.model.outputs import FLOWS, investment_in, jobs_created_in, jobs_in
from urban_sim.population.kernels import counts_by_sector
from urban_sim.population.state import SECTORS
from urban_sim.services.stocks import ENVIRONMENT_PARTS, environment_index
from urban_sim.luliang import comparison, read_averages
from urban_sim.targets import indicator_values


def collect(model, collect_flows: bool) -> None:
    """Append this year's outputs to ``model.records``: the year and the number of its rows,
    then each row's place, indicator and value (columns, so no tuple is made per row).

    Parameters
    ----------
    model : urban_sim.model.CountyModel
        After the year's tally (``groups``, ``residents``, ``occupied``, stocks).
    collect_flows : bool
        False in the start year: flows and spending are NaN.
    """
    g, y, rec = model.groups, model.year, model.records
    s = model.stocks
    places, names, values = rec["place"], rec["indicator"], rec["value"]
    n0 = len(values)
    def put(ind, val, place="county"):
        places.append(place)
        names.append(ind)
        values.append(float(val))
    total = g["residents"]
    def per(num, den, k=1.0):
        return num / den * k if den > 0 else math.nan
    put("resident_population", total)
    put("registered_population", g["registered"])
    put("outside_population", g["outside"])
    put("urban_population", g["urban_residents"])
    put("urbanization_rate", per(g["urban_residents"], total))
    put("county_seat_population", g["seat_residents"])
    put("households", model.n_households)
    put("mean_household_size", per(total, model.n_households))
    put("share_age_0_14", per(g["age_0_14"], total))
    put("share_age_60_plus", per(g["age_60_plus"], total))
    for k in FLOWS:
        put(k, model.flows.get(k, 0.0) if collect_flows else math.nan)
    # returns this year per registered member living outside at the end of last year
    put("return_rate", per(model.flows.get("returns", 0.0), model.outside_last)
        if collect_flows else math.nan)
    model.outside_last = g["outside"]
    jobs = model.labour.jobs.sum(axis=0)
    put("jobs_total", jobs.sum())
    put("jobs_nonfarm", jobs.sum() - jobs[0])
    for i, sec in enumerate(SECTORS):
        put(jobs_in(sec), jobs[i])
    by_sector = counts_by_sector(model.persons.sector, model.persons.alive, UNEMPLOYED + 1)
    put("farm_workers", by_sector[FARMING + 1] * model.weight)  # [0]: no sector (code −1)
    seekers = by_sector[1:].sum() - by_sector[FARMING + 1]
    jobless = by_sector[UNEMPLOYED + 1]
    put("wage_job_shortfall_rate", per(jobless, seekers))
    # census definition: informal work counts as employment; only a share of those without a
    # wage job have no work at all (parameters.csv)
    put("unemployment_rate", per(model.params["census_unemployed_share_of_jobless"] * jobless,
                                 by_sector[1:].sum()))
    spend = model.government.spend_by_area if collect_flows else np.full(len(TASK_AREAS), math.nan)
    for i, area in enumerate(TASK_AREAS):
        put(jobs_created_in(area), model.government.jobs_by_area[i])
        put(investment_in(area), spend[i])
    put("investment_total", spend.sum())
    put("investment_unspent", model.government.unspent if collect_flows else math.nan)
    put("school_seats_per_pupil", per(s["school_seats_seat"] + s["school_seats_other"], g["pupils"]))
    put("hospital_beds_per_1000", per(s["hospital_beds"], total, 1000))
    put("elderly_beds_per_1000_60plus",
        per(s["care_beds_nursing"] + s["care_beds_other"], g["age_60_plus"], 1000))
    put("childcare_places_per_1000",
        per(s["childcare_places_inclusive"] + s["childcare_places_other"], total, 1000))
    put("childcare_demand", g["childcare_demand"] if math.isfinite(g["childcare_demand"]) else math.nan)
    for name in ("flood_safety", *ENVIRONMENT_PARTS):
        put(name, s[name])
    put("environment_index", environment_index(s, model.env_weights, seat=True))
    for ind, val in indicator_values(s, g, model.n_big_towns, model.queued_additions()).items():
        put(ind, val)
    for ind, val in model.ratios.values(y, s, g).items():
        put(ind, val)
    for ind, val in comparison(s, g, read_averages(model.data.data_dir, model.scenario.start_year)).items():
        put(ind, val)
    for ind, val in {**model.relocation.outputs(), **model.finance.outputs()}.items():
        put(ind, val if collect_flows or ind == "debt_outstanding" else math.nan)
    # by place
    K, r = model.K, model.residents
    put("resident_population", r[0], "county_seat")
    put("resident_population", r[1:K].sum(), "towns")
    put("resident_population", r[K:2 * K].sum(), "villages")
    put("resident_population", r[-1], "outside")
    put("employment_chance", model.labour.chance[0], "county_seat")
    town_pop = r[K:2 * K] + np.append(0.0, r[1:K])
    hh_by_place = model.occupied[K:2 * K] + np.append(0.0, model.occupied[1:K])
    old = model.old_by_place * model.weight
    old_t = old[K:2 * K] + np.append(0.0, old[1:K])
    # the townships: four rows each, in this order
    empty = town_pop <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(empty, math.nan, town_pop / hh_by_place)
        old_share = np.where(empty, math.nan, old_t / town_pop)
    values.extend(np.column_stack([town_pop, empty, size, old_share]).ravel().tolist())
    names.extend(TOWNSHIP_OUTPUTS * len(model.places))
    places.extend(name for pl in model.places for name in (pl.name,) * len(TOWNSHIP_OUTPUTS))
    rec["year"].append(y)
    rec["rows"].append(len(values) - n0)


TOWNSHIP_OUTPUTS = ["resident_population", "empty", "mean_household_size", "share_age_60_plus"]
"""Outputs of every township, in the order of their rows."""
