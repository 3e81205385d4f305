"""The bodies of the county model's exogenous-inputs and government phases (phases 1 and 2 of
:data:`urban_sim.model.county.PHASES`; the model's methods call them with the model).

Both run once a simulated year whatever the population: their cost is the fixed cost of a year
(issue 12), hence what they keep between years and between models. Exogenous inputs are
functions of the scenario, the year and a few parameters: computed once for the models of the
same tables, scenario object and parameters. The government phase keeps the site counts while
the towns of 2000+ residents do not change, and reads the stocks its compiled year adds to by
position (:meth:`urban_sim.policy.government.Government.stock_rows`).
"""

from __future__ import annotations

import operator

import numpy as np

from urban_sim.config.schema import TASK_AREAS
from urban_sim.policy.allocation import (
    PLACE_ROWS, STANDARD_KEYS, building_standards, new_building_share,
)
from urban_sim.policy.government import SEWAGE
from urban_sim.population import demography
from urban_sim.services.stocks import NEW_BUILDING_SHARES
from urban_sim.targets import indicator_values, sites

ADDED = (*NEW_BUILDING_SHARES, "homestead_withdrawn", "relocated_households",
         "housing_units_seat", "housing_units_towns")
"""The stocks whose additions the government phase reads after its compiled year."""

_TOWNS_ROW = PLACE_ROWS.index("towns")

EXOGENOUS_PARAMETERS = operator.itemgetter(
    "wage_growth_base_year", "wage_seat_yuan", "wage_town_yuan", "wage_village_nonfarm_yuan",
    "informal_income_yuan", "farm_income_yuan", "wage_outside_yuan",
    "outside_fallback_income_yuan", "fiscal_energy_elasticity")
"""The parameters that :func:`exogenous_inputs` reads (a function of the parameter dict)."""

_STANDARD_PARAMETERS = operator.itemgetter(*(k for _, *keys in STANDARD_KEYS for k in keys))
"""The parameters that :func:`urban_sim.policy.allocation.building_standards` reads."""

_MEMO_SIZE = 1024
"""Years of exogenous inputs kept for a data set (scenario × year × parameters)."""


def exogenous_inputs(model) -> None:
    """Inputs for the year: policy block in force, wages, vital rates, budget.

    Sets ``block``, ``uncertainties``, ``wage`` and ``fallback`` (by place, shape (2K + 1,),
    yuan per worker and year), ``mortality`` and ``fertility`` (by age) and ``budget`` (million
    yuan) of ``model``, as :func:`exogenous_values` computes them; the same values for the
    models of the same tables, scenario object and contents, grid of places and parameters
    read, computed once (the last :data:`_MEMO_SIZE` kept) and shared: the arrays are
    read-only. The scenario's contents are read when the model first runs this phase: a
    scenario changed in place between models is seen (the blocks, programme weights and
    targets of a model are read at its start too, so a scenario is not changed while a model
    runs).

    Parameters
    ----------
    model : urban_sim.model.county.CountyModel
    """
    sc, t = model.scenario, model.year
    state = model.__dict__.get("_scenario_state")
    if state is None:  # the scenario's contents when this model first reads them (≈6 µs)
        state = model._scenario_state = sc.model_dump_json()
    key = (id(sc), state, t, model.K, EXOGENOUS_PARAMETERS(model.params))
    memo = model.data.memo(("exogenous_in_force",), dict)
    entry = memo.get(key)
    if entry is None or entry[0] is not sc:  # the entry holds the scenario: its id stays its own
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        entry = memo[key] = (sc, *exogenous_values(model, t))
    _, model.block, model.uncertainties, model.wage, model.fallback, model.mortality, \
        model.fertility, model.budget = entry


def exogenous_values(model, t: int) -> tuple:
    """The policy block, uncertainties, wage and fallback income by place, mortality and
    fertility by age, and budget of :func:`exogenous_inputs` in year ``t``.

    Parameters
    ----------
    model : urban_sim.model.county.CountyModel
        Its scenario, parameters, ``place_type`` and data are read.
    t : int
        Calendar year.

    Returns
    -------
    tuple
        The policy block in force (:class:`urban_sim.config.schema.PolicyBlock`), the
        uncertainties in force (:class:`urban_sim.config.schema.Uncertainties`), the wage and
        the fallback income by place (read-only, shape (2K + 1,): the in-county places, then
        outside; yuan per worker and year), the mortality and fertility rates by age
        (read-only, one per single year of age of ``vital_rates.csv``, per person-year) and
        the budget (float, million yuan).
    """
    sc, p = model.scenario, model.params
    block = sc.levers_at(t)
    # uncertainties act from the policy start year only; before it, history (issue 10)
    u = sc.uncertainties_at(t)
    local, outside = sc.wage_indices(t, p["wage_growth_base_year"])
    n = len(model.place_type)
    levels = (p["wage_seat_yuan"], p["wage_town_yuan"], p["wage_village_nonfarm_yuan"],
              p["informal_income_yuan"], p["informal_income_yuan"], p["farm_income_yuan"])
    by_place = np.array([levels[:3], levels[3:]]).take(model.place_type, axis=1)
    pay = np.empty((2, n + 1))  # by in-county place (× local), then outside (np.append's)
    np.multiply(by_place, local, out=pay[:, :n])
    pay[0, n] = p["wage_outside_yuan"] * outside
    pay[1, n] = p["outside_fallback_income_yuan"] * outside
    pay.setflags(write=False)  # shared by the models of the memo (its rows are views of it)
    key = (t, u.mortality_multiplier, u.fertility_multiplier)
    data = model.data
    vital = data.memo(("vital_in_force",), dict)  # shared by every model: not modified
    rates = vital.get(key)
    if rates is None:  # the year's rates by age times the multipliers (64 kept at most)
        q, f = (data.memo(("vital", r, t), lambda r=r: demography.rate_in_year(
            *model._vital[r], t)) for r in ("mortality", "fertility"))
        if len(vital) >= 64:
            vital.clear()
        rates = vital[key] = (np.minimum(q * key[1], 1.0), f * key[2])
        for a in rates:
            a.setflags(write=False)  # shared by every model on these data
    start = sc.policy.start_year if block is sc.policy else sc.start_year
    inv = block.investment
    budget = (inv.total_million_yuan * (1 + inv.growth_rate_per_year) ** (t - start)
              * u.energy_price_index ** p["fiscal_energy_elasticity"])
    return block, u, pay[0], pay[1], rates[0], rates[1], budget


def _standards(data, params: dict[str, float], year: int) -> dict[str, float]:
    """:func:`urban_sim.policy.allocation.building_standards` of ``year``, computed once for
    the models of ``data`` with the same standard parameters (shared: not modified)."""
    key = (year, _STANDARD_PARAMETERS(params))
    memo = data.memo(("building_standards",), dict)
    standard = memo.get(key)
    if standard is None:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        standard = memo[key] = building_standards(params, year)
    return standard


def government_investment(model) -> None:
    """Fund programmes, start projects, complete those whose lag has passed: the government's
    year (:meth:`urban_sim.policy.government.Government.invest_and_add`), then the new-building
    shares, private childcare, relocation and the new dwellings.

    The indicator values that the need rule reads are those that the model's collect kept
    at the end of last year (``model.indicators``, ``(year, values)``), when it did: nothing
    changes stocks, groups or the pipeline between them; else they are computed here.

    Parameters
    ----------
    model : urban_sim.model.county.CountyModel
        Its stocks, government, dwellings, persons and households are written.
    """
    m = model
    p, t, st, g, prog = m.params, m.year, m.stocks, m.government, m.programmes
    need_of, tops = g.rules(m.targets)
    queued = g.queued()
    groups, n_big = m.groups, m.n_big_towns
    known = m.__dict__.get("indicators")  # collect's, at the end of last year: if from then,
    if known is not None and known[0] == t - 1:  # of these stocks, groups and queued additions
        values = known[1]
    else:
        values = indicator_values(st, groups, n_big, prog.queued_of(SEWAGE, queued))
    town_use = m.housing_use[1:]  # np.mean's sum and division, without its dispatch
    use = [m.school_use, m.housing_use[0], float(np.add.reduce(town_use) / len(town_use)),
           6.0 / max(groups["beds_per_1000"], 1e-9)]  # allocation.USE_STOCKS
    new_m2 = m.new_dwellings * p["floor_area_per_new_dwelling_m2"]
    standard = _standards(m.data, p, t)
    gov_eff = st["governance_efficiency"]
    block = m.block
    shares = m._shares.get(id(block))
    if shares is None:  # the block's task-area shares (the scenario's blocks do not change)
        shares = m._shares[id(block)] = np.array(
            [getattr(block.investment.task_area_shares, a) for a in TASK_AREAS])
    fixed = (groups["n_other_townships"], groups["n_villages"])
    site_counts = m.__dict__.get("_site_counts")  # (towns, tops, fixed, sites): while they hold
    if site_counts is None or site_counts[0] != n_big or site_counts[1] is not tops \
            or site_counts[2] != fixed:
        site_counts = m._site_counts = (n_big, tops, fixed,
                                        m.relocation.sites(sites(tops, groups, n_big)))
    # room, need, funding, completions, depreciation and additions (one compiled call)
    amounts, built, m._direct_jobs, m._construction_jobs, pw = g.invest_and_add(
        st, groups, need_of, values, use, site_counts[3], standard, new_m2,
        m.finance.fund(t, m.budget, float(m.housing[0])), shares, m.weights[id(block)], queued,
        m.uncertainties.construction_cost_multiplier * (1 + 0.3 * (1 - gov_eff)),
        p["governance_early_completion"] * gov_eff, m.residents[: m.n_places],
        m.place_type, m.qikou_place, t, p["job_attrition_rate"])
    a, rows = amounts.tolist(), g.stock_rows(ADDED)
    a.append(0.0)  # row -1: the amount added to a stock that no programme builds
    for name, i in zip(NEW_BUILDING_SHARES, rows):
        st[name] = new_building_share(standard[name], a[i] * 1000.0, new_m2)
    m.childcare.private_supply(st, groups["childcare_demand"])
    homesteads, relocated, seat, towns = map(a.__getitem__, rows[len(NEW_BUILDING_SHARES):])
    m._homesteads_to_withdraw = homesteads
    m.relocation.move(m, relocated)
    m.housing[0] += seat
    m.housing[1:] += towns * pw[_TOWNS_ROW][1:m.K]
