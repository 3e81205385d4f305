"""Compiled passes of the stocks and of the government's year that adds to them: the stocks'
diminishing returns and room (:class:`urban_sim.services.stocks.Stocks`), the need rule
(:class:`urban_sim.policy.allocation.Need`), the government's year
(:meth:`urban_sim.policy.government.Government.invest_and_complete`: place rows, headroom,
allocation, construction and operating jobs, completions, pipeline advance), and that year with
its room, need, depreciation and additions to the stocks in one pass
(:meth:`~urban_sim.policy.government.Government.invest_and_add`).

Each pass is the Python or NumPy rule it replaced, element by element and in the same order (the
rules are the references in ``tests/test_fixed_costs.py`` and
``tests/test_kernels_government.py``). They share one module because a compiled function calls
only compiled functions of its own module (numba's disk cache sees edits of this file only).
"""

from __future__ import annotations

import math

import numpy as np

from urban_sim.population.kernels import _jit


def _approach(x, d, lo, hi, overshoot):
    # share after a nominal increment d with diminishing returns (stocks.py's docstring); the
    # comparisons pick as Python's min(hi, y) and max(lo, y) do
    w = (hi - lo) * (1.0 + overshoot)
    if d >= 0:
        if x >= hi:
            return x
        h = lo + w
        y = h - (h - x) * math.exp(-d / w)
        return y if y < hi else hi
    if x <= lo:
        return x
    h = hi - w
    y = h + (x - h) * math.exp(d / w)
    return y if y > lo else lo


def _nominal_to_reach(x, goal, lo, hi, overshoot):
    # nominal increment (≥ 0, in share units; sign of the move dropped) that takes x to goal
    # under _approach; 0 if x is already past it
    w = (hi - lo) * (1.0 + overshoot)
    if goal >= x:
        if not x < hi:
            return 0.0
        h = lo + w
        b = h - goal
        return w * math.log((h - x) / (1e-12 if 1e-12 > b else b))
    if not x > lo:
        return 0.0
    h = hi - w
    b = goal - h
    return w * math.log((x - h) / (1e-12 if 1e-12 > b else b))


_COUNT, _SHARE, _REMOTE, _SERVED = 0, 1, 2, 3
"""Kinds of stock: count (≥ 0, unbounded), bounded share, served capacity with diminishing
returns (:data:`REMOTE_SERVED`), served capacity built to demand (other :data:`GROUP_OF_STOCK`)."""


def _add_loop(value, amount, mask, kind, group, g_value, lo, hi, overshoot):
    # Stocks.add_all: the new value of each masked stock (math.exp is the C library's, as in
    # Python; the comparisons pick as Python's min and max do)
    out = value.copy()
    for i in range(value.shape[0]):
        if not mask[i]:
            continue
        v, a, k = value[i], amount[i], kind[i]
        if k == _SHARE:
            out[i] = _approach(v, a, lo[i], hi[i], overshoot)
        elif k == _REMOTE:
            g = g_value[group[i]]
            out[i] = _approach(v / g, a / g, lo[i], hi[i], overshoot) * g
        elif k == _SERVED:  # built to demand, no further
            cap = hi[i] * g_value[group[i]]
            top = cap if cap > v else v
            y = v + a
            y = top if top < y else y
            out[i] = 0.0 if 0.0 > y else y
        else:
            y = v + a
            out[i] = 0.0 if 0.0 > y else y
    return out


def _room_loop(value, kind, group, g_value, lo, hi, lower, overshoot):
    # Stocks.rooms: nominal amount each stock can still usefully take
    out = np.empty(value.shape[0])
    for i in range(value.shape[0]):
        k = kind[i]
        if k == _COUNT:
            out[i] = np.inf
        elif k == _SERVED:
            y = hi[i] * g_value[group[i]] - value[i]
            out[i] = 0.0 if 0.0 > y else y
        else:
            g = 1.0 if k == _SHARE else g_value[group[i]]
            goal = lo[i] if lower[i] else hi[i]
            out[i] = _nominal_to_reach(value[i] / g, goal, lo[i], hi[i], overshoot) * g
    return out


_approach = _jit(_approach)  # called by the loops below
_nominal_to_reach = _jit(_nominal_to_reach)
_add = _jit(_add_loop)
_room = _jit(_room_loop)


def _need_loop(v, target_indicator, ahead, low, shift_low, shift_high, high, programme_indicator):
    # Need.__call__'s rule: an indicator has failed when a target still ahead is not met (NaN is
    # never met); the extra last indicator (programmes without targets) always has; need 1
    # where the programme's indicator has failed, else 0.1
    failed = np.zeros(v.shape[0] + 1, dtype=np.bool_)
    for k in range(target_indicator.shape[0]):
        x = v[target_indicator[k]]
        if ahead[k] and not (low[k] <= x + shift_low[k] and x + shift_high[k] <= high[k]):
            failed[target_indicator[k]] = True
    failed[v.shape[0]] = True
    need = np.empty(programme_indicator.shape[0])
    for i in range(programme_indicator.shape[0]):
        need[i] = 1.0 if failed[programme_indicator[i]] else 0.1
    return need


_need = _jit(_need_loop)


def _allocate_loop(area_budget, weights, need, available_from, year, headroom, unit_cost,
                   cost_factor, area, pipeline, lag, early_lag, early):
    # weights w = weights × need × (available_from <= year) and costs unit_cost × cost_factor
    # (element by element, as NumPy multiplies them); then
    # three passes over the programmes, each as the NumPy rule it replaced: what is left of each
    # area's budget goes to its open programmes (below their cap, weight > 0) in proportion to
    # weight, capped; then units = spend / cost enter the pipeline at their lag, a share
    # ``early`` a year earlier. Sums by area in programme order (as a bincount adds them).
    n, n_areas = weights.shape[0], area_budget.shape[0]
    w = np.empty(n)
    cost = np.empty(n)
    cap = np.empty(n)
    for i in range(n):
        w[i] = weights[i] * need[i] * (1.0 if available_from[i] <= year else 0.0)
        cost[i] = unit_cost[i] * cost_factor
        h = headroom[i]
        cap[i] = (h if h >= 0.0 else 0.0) * cost[i] if np.isfinite(h) else np.inf
    spend = np.zeros(n)
    by_area = np.zeros(n_areas)
    wsum = np.zeros(n_areas)
    open_ = np.zeros(n, dtype=np.bool_)
    for _ in range(3):
        by_area[:] = 0.0
        wsum[:] = 0.0
        for i in range(n):
            by_area[area[i]] += spend[i]
            open_[i] = spend[i] < cap[i] - 1e-9 and w[i] > 0
            wsum[area[i]] += w[i] if open_[i] else 0.0
        for i in range(n):
            add = 0.0
            if open_[i]:
                a = area[i]
                add = (area_budget[a] - by_area[a]) * w[i] / (wsum[a] if wsum[a] > 0 else 1.0)
            s = spend[i] + add
            spend[i] = s if (s <= cap[i] or np.isnan(s)) else cap[i]
    by_area[:] = 0.0
    for i in range(n):
        by_area[area[i]] += spend[i]
        units = spend[i] / (cost[i] if cost[i] > 0 else np.inf)
        pipeline[lag[i], i] += units * (1.0 - early)
    for i in range(n):
        pipeline[early_lag[i], i] += spend[i] / (cost[i] if cost[i] > 0 else np.inf) * early
    return spend, by_area


def _construction_loop(construction, construction_place, spend, jobs_per_million, duration,
                       area, pw, row):
    # jobs a year of the projects started this year: spend × jobs per million / duration (as
    # NumPy divides by the integer duration); year d of them: jobs by task area (in programme
    # order, as a bincount adds them) and by place (programme by programme, jobs × place
    # distribution: programme i's is pw[row[i]])
    jobs_per_year = np.empty(spend.shape[0])
    for i in range(spend.shape[0]):
        jobs_per_year[i] = spend[i] * jobs_per_million[i] / duration[i]
    by_area = np.empty(construction.shape[1])
    for d in range(construction.shape[0]):
        by_area[:] = 0.0
        active = False
        for i in range(jobs_per_year.shape[0]):
            if d < duration[i]:
                active = True
                by_area[area[i]] += jobs_per_year[i]
            else:
                by_area[area[i]] += 0.0
        if not active:
            break
        for a in range(by_area.shape[0]):
            construction[d, a] += by_area[a]
        for i in range(jobs_per_year.shape[0]):
            if d < duration[i] and jobs_per_year[i] > 0:
                r = row[i]
                for j in range(pw.shape[1]):
                    construction_place[d, j] += jobs_per_year[i] * pw[r, j]


def _completed_loop(units, unit_size, creates_jobs, stock_code, area, jobs_per_unit, n_stocks,
                    n_areas):
    # additions by stock (units × unit size of the programmes with units, jobs_* excepted, in
    # programme order as a bincount adds them), the stocks with additions, operating jobs by
    # task area (every programme in order, as a bincount)
    additions = np.zeros(n_stocks)
    built = np.zeros(n_stocks, dtype=np.bool_)
    operating = np.zeros(n_areas)
    for i in range(units.shape[0]):
        if units[i] > 0 and not creates_jobs[i]:
            additions[stock_code[i]] += units[i] * unit_size[i]
            built[stock_code[i]] = True
        operating[area[i]] += units[i] * jobs_per_unit[i]
    return additions, built, operating


def _operating_loop(direct, units, unit_size, operating_jobs, job_sector, sector, pw, row):
    # operating jobs of completed units: a jobs_* unit is itself the job (units × unit size),
    # other programmes units × operating jobs per unit, spread over places (programme i by
    # pw[row[i]])
    for i in range(units.shape[0]):
        if units[i] > 0:
            if job_sector[i] >= 0:
                n, s = units[i] * unit_size[i], job_sector[i]
            elif operating_jobs[i] > 0:
                n, s = units[i] * operating_jobs[i], sector[i]
            else:
                continue
            r = row[i]
            for j in range(pw.shape[1]):
                direct[j, s] += n * pw[r, j]


def _advance_loop(pipeline, construction, construction_place):
    # each table one year on: row d + 1 becomes row d, the last row 0 (arr[:-1] = arr[1:];
    # arr[-1] = 0)
    for arr in (pipeline, construction, construction_place):
        for d in range(arr.shape[0] - 1):
            arr[d] = arr[d + 1]
        arr[-1] = 0.0


def _headroom_loop(room, queued, stock_code, abs_unit_size):
    # (room.take(stock_code) - abs(queued)) / abs_unit_size, element by element; x / +0 as
    # NumPy gives it (numba would raise): ±inf by the sign of x, NaN for 0 and NaN
    out = np.empty(queued.shape[0])
    for i in range(queued.shape[0]):
        x, d = room[stock_code[i]] - abs(queued[i]), abs_unit_size[i]
        if d != 0.0:
            out[i] = x / d
        else:
            out[i] = np.inf if x > 0 else (-np.inf if x < 0 else np.nan)
    return out


_advance = _jit(_advance_loop)
_headroom = _jit(_headroom_loop)
_allocate = _jit(_allocate_loop)
_completed = _jit(_completed_loop)
_construction_jobs = _jit(_construction_loop)
_operating_jobs = _jit(_operating_loop)


def _block(a, lo, n):
    # NumPy's pairwise sum of a[lo:lo + n] for n <= 128 (model/tally.py's _block: a compiled
    # function calls only those of its own module): below 8 values in order from −0.0, else
    # eight interleaved partial sums, then the rest
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r = np.empty(8)
    for j in range(8):
        r[j] = a[lo + j]
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += a[lo + i + j]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


def _place_rows_loop(residents, masks, w):
    # place_weight_rows' NumPy rule row by row: residents where the row's mask is set, over
    # their sum (0.0 + NumPy's pairwise sum, as ndarray.sum adds a row of at most 128 values);
    # the mask itself (1.0 and 0.0) over its count where nobody lives there (sum <= 0; then
    # every value is 0.0 if the count is 0)
    for r in range(masks.shape[0]):
        row = w[r]
        for j in range(masks.shape[1]):
            row[j] = residents[j] if masks[r, j] else 0.0
        total = 0.0 + _block(row, 0, row.shape[0])
        if total <= 0:
            for j in range(masks.shape[1]):
                row[j] = 1.0 if masks[r, j] else 0.0
            total = 0.0 + _block(row, 0, row.shape[0])
        for j in range(masks.shape[1]):  # 0 / 0 (a row without places) is NaN, as in NumPy
            row[j] = row[j] / total if total != 0.0 else np.nan


_block = _jit(_block)  # called by the loops below
_place_rows = _jit(_place_rows_loop)


def _year_loop(budget, shares, weights, need, room, queued, year, cost_factor, early, attrition,
               columns_f, columns_i, pipeline, construction, construction_place,
               operating_by_area, residents, masks, new_building, place_rows, spend, by_area,
               additions, built, direct, construction_jobs, jobs):
    # one year of the government in one call, the kernels above in the order of the former
    # invest (place rows, headroom, allocation, construction jobs) and complete (operating
    # jobs of this year's units, additions, the stocks to add to (built, new-building shares
    # excepted), the new operating and total jobs by area as NumPy computed them,
    # construction jobs of this year, pipeline advance); the programme columns come as the
    # two tables of Programmes (columns_f, columns_i); the results go into the arrays
    # place_rows … jobs (operating_by_area updated in place). The areas' budgets are
    # budget × shares; returns the budget not spent, max(area budgets' sum − spend's sum, 0.0)
    # with NumPy's sums (as ndarray.sum: 0.0 plus the pairwise sum; NaN when there are more
    # than 128 programmes: then summed by NumPy)
    available_from, unit_cost, abs_unit_size = columns_f[0], columns_f[1], columns_f[2]
    jobs_per_million, unit_size, operating_jobs, jobs_per_unit = (
        columns_f[3], columns_f[4], columns_f[5], columns_f[6])
    stock_code, area, lag, early_lag, duration = (
        columns_i[0], columns_i[1], columns_i[2], columns_i[3], columns_i[4])
    place_row, job_sector, sector, creates_jobs = (
        columns_i[5], columns_i[6], columns_i[7], columns_i[8])
    if residents.shape[0] <= 128:  # else given (place_weight_rows)
        _place_rows(residents, masks, place_rows)
    area_budget = np.empty(shares.shape[0])
    for a in range(shares.shape[0]):
        area_budget[a] = budget * shares[a]
    headroom = _headroom(room, queued, stock_code, abs_unit_size)
    s, b = _allocate(area_budget, weights, need, available_from, year, headroom, unit_cost,
                     cost_factor, area, pipeline, lag, early_lag, early)
    spend[:] = s
    by_area[:] = b
    _construction_jobs(construction, construction_place, spend, jobs_per_million, duration,
                       area, place_rows, place_row)
    units = pipeline[0]
    direct[:] = 0.0
    _operating_jobs(direct, units, unit_size, operating_jobs, job_sector, sector, place_rows,
                    place_row)
    a, bl, operating = _completed(units, unit_size, creates_jobs, stock_code, area,
                                  jobs_per_unit, new_building.shape[0], area_budget.shape[0])
    for k in range(bl.shape[0]):
        additions[k] = a[k]
        built[k] = bl[k] and not new_building[k]
    kept = 1.0 - attrition
    for k in range(operating_by_area.shape[0]):
        operating_by_area[k] = operating_by_area[k] * kept + operating[k]
        jobs[k] = construction[0, k] + operating_by_area[k]
    construction_jobs[:] = construction_place[0]
    _advance(pipeline, construction, construction_place)
    if spend.shape[0] > 128 or area_budget.shape[0] > 128:
        return np.nan
    x = (0.0 + _block(area_budget, 0, area_budget.shape[0])) - (0.0 + _block(spend, 0, spend.shape[0]))
    return 0.0 if 0.0 > x else x


_year = _jit(_year_loop)


def _section(table, j):
    # section j of a table of pack_constants: the values between the positions its header
    # (the first values) holds
    return table[table[j]:table[j + 1]]


def _stock_year_loop(values, ints, floats, inputs, n_groups, n_indicators, overshoot,
                     site_count, new_m2, ahead, budget, shares, weights, queued, year,
                     cost_factor, early, attrition, pipeline, construction, construction_place,
                     operating_by_area, residents, masks, place_rows, spend, by_area,
                     additions, built, direct, construction_jobs, jobs, queued_next):
    # the government's year with its stocks, in the order of the former Python steps: the
    # room of each programme stock (Stocks.rooms of the values before depreciation; sites
    # left, max(count - value, 0.0) as Python's max picks; floor area not yet meeting the
    # standard), the need rule (Need.__call__: capacity programmes min(max(use / 0.9, 0.2),
    # 2.0) as Python picks), the year (_year_loop), depreciation (Stocks.depreciate, in the
    # order of its list) and the additions (Stocks.add_all of the depreciated values where
    # ``built``); ``values`` (every stock of the table, -1 in stock_pos: not in the table,
    # read as 0.0 and never written) is updated in place; then next year's queued additions
    # by programme, pipeline.sum(axis=0) * unit_size as NumPy sums the rows of a C-ordered
    # table of 2+ columns (from the first row, row by row), into queued_next (not written for
    # a single column: NumPy sums that pairwise); returns _year_loop's unspent budget and the
    # first programme stock with additions (``built``) that is not in the table (-1: none).
    # ``inputs`` holds the year's values in one array: the groups (n_groups), the standards
    # of the new-building shares (one per nb_row), the indicators (n_indicators), the use;
    # ``ints`` and ``floats`` the layout, need rule and programme table of pack_constants
    stock_pos, kind, group, lower, site_row, site_pos, nb_row, dep_pos, dep_lower = (
        _section(ints, 0), _section(ints, 1), _section(ints, 2), _section(ints, 3),
        _section(ints, 4), _section(ints, 5), _section(ints, 6), _section(ints, 7),
        _section(ints, 8))
    target_indicator, programme_indicator, use_row, use_k = (
        _section(ints, 9), _section(ints, 10), _section(ints, 11), _section(ints, 12))
    n, n_dep, n_targets = stock_pos.shape[0], dep_pos.shape[0], target_indicator.shape[0]
    lo, hi, dep_rate = floats[:n], floats[n:2 * n], floats[2 * n:2 * n + n_dep]
    at, n_prog = 2 * n + n_dep, pipeline.shape[1]
    low, shift_low = floats[at:at + n_targets], floats[at + n_targets:at + 2 * n_targets]
    shift_high = floats[at + 2 * n_targets:at + 3 * n_targets]
    high = floats[at + 3 * n_targets:at + 4 * n_targets]
    at += 4 * n_targets
    columns_f = floats[at:at + 7 * n_prog].reshape((7, n_prog))
    columns_i = _section(ints, 13).reshape((9, n_prog))
    new_building = _section(ints, 14)
    n_nb = nb_row.shape[0]
    g_value = inputs[:n_groups]
    nb_standard = inputs[n_groups:n_groups + n_nb]
    indicators = inputs[n_groups + n_nb:n_groups + n_nb + n_indicators]
    use = inputs[n_groups + n_nb + n_indicators:]
    read = np.empty(n)
    for k in range(n):
        read[k] = values[stock_pos[k]] if stock_pos[k] >= 0 else 0.0
    room = _room(read, kind, group, g_value, lo, hi, lower, overshoot)
    for j in range(site_pos.shape[0]):
        x = site_count[j] - values[site_pos[j]]
        if site_row[j] >= 0:
            room[site_row[j]] = 0.0 if 0.0 > x else x
    for j in range(nb_row.shape[0]):
        room[nb_row[j]] = (1.0 - nb_standard[j]) * new_m2 / 1000.0
    need = _need(indicators, target_indicator, ahead, low, shift_low, shift_high, high,
                 programme_indicator)
    for j in range(use_row.shape[0]):
        x = use[use_k[j]] / 0.9
        x = 0.2 if 0.2 > x else x
        need[use_row[j]] = 2.0 if 2.0 < x else x
    unspent = _year(budget, shares, weights, need, room, queued, year, cost_factor, early,
                    attrition, columns_f, columns_i, pipeline, construction,
                    construction_place, operating_by_area, residents, masks, new_building,
                    place_rows, spend, by_area, additions, built, direct, construction_jobs,
                    jobs)
    for j in range(dep_pos.shape[0]):
        i = dep_pos[j]
        if dep_lower[j]:
            values[i] += dep_rate[j] * (1.0 - values[i])
        else:
            values[i] *= 1.0 - dep_rate[j]
    for k in range(n):
        read[k] = values[stock_pos[k]] if stock_pos[k] >= 0 else 0.0
    new = _add(read, additions, built, kind, group, g_value, lo, hi, overshoot)
    missing = -1
    for k in range(n):
        if built[k]:
            if stock_pos[k] >= 0:
                values[stock_pos[k]] = new[k]
            elif missing < 0:
                missing = k
    if pipeline.shape[1] > 1:
        unit_size = columns_f[4]
        for i in range(pipeline.shape[1]):
            q = pipeline[0, i]
            for d in range(1, pipeline.shape[0]):
                q += pipeline[d, i]
            queued_next[i] = q * unit_size[i]
    return unspent, missing


_section = _jit(_section)  # called by the loop below
_stock_year = _jit(_stock_year_loop)


def pack_constants(stock_pos, kind, group, lower, site_row, site_pos, nb_row, dep_pos, dep_lower,
                   lo, hi, dep_rate, need, programmes) -> tuple[np.ndarray, np.ndarray]:
    """The constant arrays of :func:`_stock_year_loop` (the stock layout of
    :meth:`urban_sim.policy.government.Government.invest_and_add`, the need rule ``need``,
    :class:`urban_sim.policy.allocation.Need`, and the tables of ``programmes``,
    :class:`urban_sim.policy.government.Programmes`) in two tables: the compiled call unboxes
    two arrays instead of twenty-three.

    Returns
    -------
    ints : numpy.ndarray of int64
        A header of 16 positions, then the sections ``stock_pos, kind, group, lower, site_row,
        site_pos, nb_row, dep_pos, dep_lower, target_indicator, programme_indicator, use_row,
        use_k``, the programmes' ``columns_i`` (row by row) and ``new_building`` (booleans as 0
        and 1); section ``j`` lies between ``ints[j]`` and ``ints[j + 1]``.
    floats : numpy.ndarray of float
        ``lo, hi, dep_rate``, the need rule's ``low, shift_low, shift_high, high`` and the
        programmes' ``columns_f`` (row by row), one after the other (their lengths are those of
        ``stock_pos``, ``dep_pos``, ``target_indicator`` and the table). Both read-only.
    """
    parts = [np.asarray(a, dtype=np.int64).ravel() for a in (
        stock_pos, kind, group, lower, site_row, site_pos, nb_row, dep_pos, dep_lower,
        need.target_indicator, need.programme_indicator, need.use_row, need.use_k,
        programmes.columns_i, programmes.new_building)]
    ends = np.cumsum([len(parts) + 1] + [len(a) for a in parts])
    ints = np.concatenate([ends, *parts]).astype(np.int64)
    floats = np.concatenate([np.asarray(a, dtype=float).ravel() for a in (
        lo, hi, dep_rate, need.low, need.shift_low, need.shift_high, need.high,
        programmes.columns_f)])
    for a in (ints, floats):
        a.flags.writeable = False
    return ints, floats
