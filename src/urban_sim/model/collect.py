"""Collection of the model's yearly outputs under the names of the output catalogue
(:mod:`urban_sim.model.outputs`): county totals, zones and townships, as long records.

A year's rows have the same places and indicators every year of a run: they are kept once, as a
template shared by the years (a pair of tuples), and each year adds only its values; the string
columns of the timeseries are built once per template and number of years and shared by the runs
of a process (:func:`frame`).
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np
import pandas as pd

from urban_sim.config.schema import TASK_AREAS
from urban_sim.economy.labour import FARMING, UNEMPLOYED
from urban_sim.luliang import COMPARISON_NAMES, comparison_row, read_averages
from urban_sim.luliang import STOCKS_READ as _LULIANG_STOCKS
from urban_sim.model.outputs import FLOWS, investment_in, jobs_created_in, jobs_in
from urban_sim.model.tally import output_sums
from urban_sim.population.kernels import _jit, counts_by_sector
from urban_sim.population.state import SECTORS
from urban_sim.services.stocks import ENVIRONMENT_PARTS
from urban_sim.targets import INDICATOR_NAMES, RATIO_NAMES, indicator_row

TOWNSHIP_OUTPUTS = ["resident_population", "empty", "mean_household_size", "share_age_60_plus"]
"""Outputs of every township, in the order of their rows."""

COUNTY_HEAD = (
    "resident_population", "registered_population", "outside_population", "urban_population",
    "urbanization_rate", "county_seat_population", "households", "mean_household_size",
    "share_age_0_14", "share_age_60_plus", *FLOWS, "return_rate", "jobs_total", "jobs_nonfarm",
    *(jobs_in(s) for s in SECTORS), "farm_workers", "wage_job_shortfall_rate", "unemployment_rate",
    *(n for a in TASK_AREAS for n in (jobs_created_in(a), investment_in(a))),
    "investment_total", "investment_unspent", "school_seats_per_pupil", "hospital_beds_per_1000",
    "elderly_beds_per_1000_60plus", "childcare_places_per_1000", "childcare_demand",
    "flood_safety", *ENVIRONMENT_PARTS, "environment_index")
"""The first county rows of a year, in order (then the indicator values, the uncapped ratios and
their decomposition, the comparison with Lüliang, relocation and financing)."""

ZONE_ROWS = (("county_seat", "resident_population"), ("towns", "resident_population"),
             ("villages", "resident_population"), ("outside", "resident_population"),
             ("county_seat", "employment_chance"))
"""(place, indicator) of the zone rows, after the county rows."""

_STOCKS_READ = frozenset({"school_seats_seat", "school_seats_other", "hospital_beds",
                          "care_beds_nursing", "care_beds_other", "childcare_places_inclusive",
                          "childcare_places_other", "flood_safety", *ENVIRONMENT_PARTS,
                          *_LULIANG_STOCKS})
_NAN_FLOWS = [math.nan] * len(FLOWS)
_NAN_AREAS = np.full(len(TASK_AREAS), math.nan)
_NAN_AREAS_2 = [math.nan] * len(TASK_AREAS)
_read_flows = operator.itemgetter(*FLOWS)
_read_environment = operator.itemgetter(*ENVIRONMENT_PARTS)
_KEYS = {False: (*INDICATOR_NAMES, *RATIO_NAMES), True: (*INDICATOR_NAMES, *RATIO_NAMES, *COMPARISON_NAMES)}
"""The county indicators after the head, without and with the Lüliang averages (then relocation
and financing)."""


def _per(num, den, k=1.0):
    return num / den * k if den > 0 else math.nan


def collect(model, collect_flows: bool) -> None:
    """Append this year's outputs to ``model.records``: the year, the number of its rows, its
    template (places and indicators, :func:`template`) and its values (float64 array); and set
    ``model.indicators`` to ``(year, indicator_values)`` (:func:`urban_sim.targets.indicator_values`
    of the year's end, a dict not to be changed).

    Parameters
    ----------
    model : urban_sim.model.CountyModel
        After the year's tally (``groups``, ``residents``, ``occupied``, stocks) and
        ``environment_seat`` (the environment index of the county seat this year).
    collect_flows : bool
        False in the start year: flows and spending are NaN.

    Raises
    ------
    DataError
        If a stock read here is not in ``stocks.csv``.
    """
    g, y, rec, st = model.groups, model.year, model.records, model.stocks
    s = st.value
    total, n_hh, flows, gov = g["residents"], model.n_households, model.flows, model.government
    if collect_flows:
        try:  # every flow is set at the start of a year (0.0)
            flow_values = _read_flows(flows)
        except KeyError:
            flow_values = [flows.get(k, 0.0) for k in FLOWS]
        # returns this year per registered member living outside at the end of last year
        return_rate = _per(flows.get("returns", 0.0), model.outside_last)
        spend, unspent = gov.spend_by_area, gov.unspent
    else:
        flow_values, return_rate, spend, unspent = _NAN_FLOWS, math.nan, _NAN_AREAS, math.nan
    model.outside_last = g["outside"]
    jobs = model.labour.jobs
    sums = np.empty(jobs.shape[1] + 2)
    output_sums(jobs, spend, sums)
    *jobs, jobs_total, spend_total = sums.tolist()  # jobs.sum(axis=0), its sum, spend.sum()
    by_sector = counts_by_sector(model.persons.sector, model.persons.alive, UNEMPLOYED + 1).tolist()
    farm = by_sector[FARMING + 1]  # [0]: no sector (code −1)
    in_work = sum(by_sector[1:])
    jobless = by_sector[UNEMPLOYED + 1]
    areas = _NAN_AREAS_2 * 2  # jobs created and spending of each area, interleaved
    areas[::2], areas[1::2] = gov.jobs_by_area.tolist(), spend.tolist()
    demand = g["childcare_demand"]
    try:  # the stocks read here, checked only when one is missing (KeyError)
        values = [
            total, g["registered"], g["outside"], g["urban_residents"],
            _per(g["urban_residents"], total), g["seat_residents"], n_hh, _per(total, n_hh),
            _per(g["age_0_14"], total), _per(g["age_60_plus"], total), *flow_values, return_rate,
            jobs_total, jobs_total - jobs[0], *jobs, farm * model.weight,
            _per(jobless, in_work - farm),
            # census definition: informal work counts as employment; only a share of those
            # without a wage job have no work at all (parameters.csv)
            _per(model.params["census_unemployed_share_of_jobless"] * jobless, in_work),
            *areas, spend_total, unspent,
            _per(s["school_seats_seat"] + s["school_seats_other"], g["pupils"]),
            _per(s["hospital_beds"], total, 1000),
            _per(s["care_beds_nursing"] + s["care_beds_other"], g["age_60_plus"], 1000),
            _per(s["childcare_places_inclusive"] + s["childcare_places_other"], total, 1000),
            demand if math.isfinite(demand) else math.nan,
            s["flood_safety"], *_read_environment(s), model.environment_seat]
    except KeyError:
        _check_stocks(st)
        raise
    try:
        avg = model._luliang_averages  # once a run
    except AttributeError:
        avg = model._luliang_averages = read_averages(model.data.data_dir, model.scenario.start_year)
    indicators = indicator_row(st, g, model.n_big_towns, model.queued_sewage())
    # indicator_values of this year's end: what government_investment reads at the start of
    # the next year (nothing changes them between)
    model.indicators = (y, dict(zip(INDICATOR_NAMES, indicators)))
    values += indicators
    values += model.ratios.row(y, st, g)
    if avg is not None:
        try:
            values += comparison_row(s, g, avg)
        except KeyError:
            _check_stocks(st)
            raise
    outputs = {**model.relocation.outputs(), **model.finance.outputs()}
    values.extend(outputs.values() if collect_flows else
                  [v if k == "debt_outstanding" else math.nan for k, v in outputs.items()])
    K, r = model.K, model.residents
    values += [r[0], *model.zone_residents, r[-1], model.labour.chance[0]]
    n_county, n = len(values), len(values) + 4 * K
    # as floats now, while the values are fresh in the cache (at the end of the run, reading
    # them back from all over the heap cost more than building the frame); the townships' rows
    # written after them by the compiled pass
    row = np.empty(n)
    row[:n_county] = values
    _township_rows(r, model.occupied, model.old_by_place, model.weight, K, row, n_county)
    keys = (*_KEYS[avg is not None], *outputs)
    last = rec["template"][-1] if rec["template"] else None
    if last is None or last[2] != keys or len(last[0]) != n:
        last = template(keys, tuple(pl.name for pl in model.places))
    rec["year"].append(y)
    rec["rows"].append(n)
    rec["template"].append(last)
    rec["value"].append(row)


def _check_stocks(stocks) -> None:
    # raises DataError naming the first stock (sorted) that collect reads and the table lacks
    s = stocks.value
    if not s.keys() >= _STOCKS_READ:
        stocks[next(n for n in sorted(_STOCKS_READ) if n not in s)]  # raises DataError


@functools.lru_cache(maxsize=16)
def template(keys: tuple[str, ...], townships: tuple[str, ...]) -> tuple[tuple, tuple, tuple]:
    """Places and indicators of a year's rows: the county rows (:data:`COUNTY_HEAD`, then
    ``keys``), the zones (:data:`ZONE_ROWS`) and the townships (:data:`TOWNSHIP_OUTPUTS` each);
    made once for the models of a process (shared: tuples).

    Parameters
    ----------
    keys : tuple of str
        The county indicators after :data:`COUNTY_HEAD`, in order.
    townships : tuple of str
        Township names, in place order.

    Returns
    -------
    tuple
        ``(places, indicators, keys)``, each a tuple of str.
    """
    county = (*COUNTY_HEAD, *keys)
    places = (*("county",) * len(county), *(p for p, _ in ZONE_ROWS),
              *(name for name in townships for _ in TOWNSHIP_OUTPUTS))
    names = (*county, *(i for _, i in ZONE_ROWS), *TOWNSHIP_OUTPUTS * len(townships))
    return places, names, keys


def _township_loop(residents, occupied, old_by_place, weight, K, out, at):
    # the four rows of each township (village area plus town centre; township 0's centre is the
    # county seat, not counted): residents, emptied (1/0), persons per household, share 60+;
    # into out[at:at + 4 K] (numba boxes no returned array)
    out = out[at:at + 4 * K]
    for t in range(K):
        pop, hh, old = residents[K + t], occupied[K + t], old_by_place[K + t] * weight
        if t > 0:
            pop, hh, old = pop + residents[t], hh + occupied[t], old + old_by_place[t] * weight
        else:
            pop, hh, old = pop + 0.0, hh + 0.0, old + 0.0
        empty = pop <= 0
        out[4 * t] = pop
        out[4 * t + 1] = 1.0 if empty else 0.0
        if empty or pop != pop:
            out[4 * t + 2] = out[4 * t + 3] = np.nan
        else:
            out[4 * t + 2] = pop / hh if hh != 0 else (np.inf if pop > 0 else np.nan)
            out[4 * t + 3] = old / pop
    return 0


_township_rows = _jit(_township_loop)


_COLUMNS: dict[tuple, tuple] = {}
_TS_NAMES = ("scenario", "replicate", "year", "place", "indicator", "value")
_from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
"""pandas' constructor of a frame from a list of columns (what ``DataFrame(dict)`` calls after
reading the dict; internal, so :func:`frame` falls back to the dict when it is missing)."""
try:  # pandas >= 3: a frame from its blocks, taken as they are
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:
    _from_blocks = None
_PLACEMENT = tuple(np.array(p, dtype=np.intp) for p in ([0], [1, 2], [3], [4], [5]))
"""Columns of the blocks of a frame (:func:`frame`): scenario, replicate and year, place,
indicator, value."""
for _p in _PLACEMENT:
    _p.flags.writeable = False  # shared by every frame


def frame(records: dict[str, list], scenario: str, replicate: int) -> pd.DataFrame:
    """The collected records as the long timeseries of a run.

    Parameters
    ----------
    records : dict
        ``year``, ``rows``, ``template`` and ``value`` (one per year; the values an array of
        float64 of the year's rows) of :func:`collect`.
    scenario : str
    replicate : int

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario, replicate, year, place, indicator, value``, as pandas infers them
        from lists of str, ints and floats.

    Notes
    -----
    When every year has the same rows (one template), the string columns are made once per
    template, number of years and scenario and copied into each frame, and the frame is made
    from its blocks (pandas >= 3, ``pandas.api.internals.create_dataframe_from_blocks``, the
    blocks pandas would make: the integer columns in one), else from the list of its columns
    (``replicate`` as ``numpy.full``, the dtype NumPy and pandas infer from the scalar alike)
    with the column index made once: ≈ 515 -> 200-275 µs CPU at the end of a run at scale
    0.003 (from a dict pandas builds the index of the dict's keys anew and checks every
    column, code that is cold at the end of a run). The same frame
    (:meth:`pandas.DataFrame.equals`, dtypes), another block layout than from a dict.
    """
    tpl, n_rows = records["template"], sum(records["rows"])
    year = np.repeat(np.array(records["year"], dtype=np.int64), records["rows"])
    value = np.concatenate(records["value"]) if records["value"] else np.empty(0)
    if tpl and tpl.count(tpl[0]) == len(tpl):  # every year the same rows: columns shared
        key = (id(tpl[0]), len(tpl), scenario)
        cols = _COLUMNS.get(key)
        if cols is None or cols[0] is not tpl[0]:  # (the template kept: its id stays its own)
            if len(_COLUMNS) >= 16:
                _COLUMNS.clear()
            strings = tuple(pd.Series(list(c) * len(tpl)).array for c in tpl[0][:2]) + (
                pd.Series([scenario] * n_rows).array,)
            # extension arrays (pandas' own string dtype) stand as blocks as they are; NumPy's
            # object arrays (pandas < 3 by default) do not
            own = not any(isinstance(a, pd.arrays.NumpyExtensionArray) for a in strings)
            # the indexes are shared too, each frame with its own view (a name set on a frame's
            # index must not pass on to the next frames)
            cols = _COLUMNS[key] = (tpl[0], pd.Index(_TS_NAMES), *strings, own, pd.RangeIndex(n_rows))
        place, indicator, name = (c.copy() for c in cols[2:5])  # the frame may be changed
        if _from_blocks is not None and cols[5] and np.array(replicate).dtype == year.dtype:
            ints = np.empty((2, n_rows), np.int64)  # replicate and year: pandas' int64 block
            ints[0], ints[1] = replicate, year
            at = _PLACEMENT
            return _from_blocks([(name, at[0]), (ints, at[1]), (place, at[2]), (indicator, at[3]),
                                 (value.reshape(1, -1), at[4])], cols[6].view(), cols[1].view())
        if _from_arrays is not None:
            return _from_arrays([name, np.full(n_rows, replicate), year, place, indicator, value],
                                cols[1].view(), cols[6].view())
    else:
        place = [p for t in tpl for p in t[0]]
        indicator = [i for t in tpl for i in t[1]]
        name = scenario
    # copy=False: the columns are this frame's own (made here or copied above)
    return pd.DataFrame(dict(zip(_TS_NAMES, (name, replicate, year, place, indicator, value))),
                        index=pd.RangeIndex(n_rows), copy=False)
