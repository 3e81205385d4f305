"""Government investment by task area through programmes with unit costs, lags and jobs.

Each year the budget of task area ``a`` is ``B_a(t) = total(t) × share_a`` (scenario inputs).
Within a task area, programmes are funded in proportion to ``default_weight × scenario weight
× lever boost × need``, where ``need`` is 1 while the programme's target is unmet (0.1 once met:
maintenance) or the capacity's utilisation ratio for capacity programmes. Funding buys
``spend / unit cost`` units; they are completed ``lag_years`` later, create construction jobs
while they are built and operating jobs once complete (model.md §5).

A programme can be funded only from its ``available_from`` year (the year the national
programme or campaign began, programmes.csv); funds a task area cannot use (programmes not yet
available or at their bound) go to its other programmes, and what no programme can use is
carried over to the next year's budget (reported as ``investment_unspent``). Governance
efficiency ``g`` completes a share ``governance_early_completion × g`` of each year's projects
one year early (a smooth effect, replacing a threshold).
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd

from urban_sim.config.schema import TASK_AREAS, PolicyBlock
from urban_sim.errors import ConfigError, DataError, did_you_mean
from urban_sim.policy.allocation import PLACE_ROWS, Need
from urban_sim.population.kernels import _jit
from urban_sim.population.state import SECTORS
from urban_sim.services.stocks import NEW_BUILDING_SHARES
from urban_sim.targets import INDICATOR_OF_STOCK, target_tops

LEVER_PROGRAMMES: dict[str, tuple[str, ...]] = {
    "school_expansion_priority": ("school_expansion", "special_education"),
    "tourism_promotion": ("tourism_qikou", "yellow_river_tourism_road", "county_branding"),
    "vocational_training_intensity": ("vocational_training", "vocational_schools"),
    "housing_support_share": ("social_housing",),
    "land_reform": ("homestead_revitalisation", "land_management"),
}
"""Programmes whose funding weight a lever multiplies by ``1 + 2 × lever`` (assumption)."""

MAX_LAG = 8
SEWAGE = "town_sewage_facilities"
"""The one stock of the queue that :func:`urban_sim.targets.indicator_values` reads."""


class Programmes:
    """Programme table as columns (from ``programmes.csv``).

    Raises
    ------
    ConfigError
        If a scenario names a programme weight for a programme that does not exist.
    DataError
        If a programme's ``place`` is not one of
        :data:`urban_sim.policy.allocation.PLACE_ROWS`.
    """

    def __init__(self, table: pd.DataFrame) -> None:
        t = table.reset_index(drop=True)
        self.ids = t["programme_id"].astype(str).tolist()
        self.area = np.array([TASK_AREAS.index(a) for a in t["task_area"]])
        self.stock = t["stock"].astype(str).tolist()
        self.place = t["place"].astype(str).tolist()
        self.unit_size = t["unit_size"].to_numpy(float)
        self.unit_cost = t["unit_cost_million_yuan"].to_numpy(float)
        self.lag = t["lag_years"].to_numpy(int).clip(0, MAX_LAG - 1)
        self.construction_jobs = t["construction_jobs_per_million_yuan"].to_numpy(float)
        self.operating_jobs = t["operating_jobs_per_unit"].to_numpy(float)
        self.sector = np.array([SECTORS.index(s) if s in SECTORS else SECTORS.index("public")
                                for s in t["operating_sector"]])
        self.weight = t["default_weight"].to_numpy(float)
        self.available_from = (t["available_from"].to_numpy(float) if "available_from" in t
                               else np.zeros(len(t)))
        self.creates_jobs = np.array([s.startswith("jobs_") for s in self.stock])
        self.job_sector = np.array([SECTORS.index(s[5:]) if s.startswith("jobs_") else -1
                                    for s in self.stock])  # sector of a jobs_* unit
        unknown = sorted(set(self.place) - set(PLACE_ROWS))
        if unknown:
            raise DataError(f"programmes.csv: unknown place {unknown[0]!r}; "
                              f"one of {', '.join(PLACE_ROWS)}")
        self.place_row = np.array([PLACE_ROWS.index(k) for k in self.place], dtype=np.intp)
        self.stock_index = {name: i for i, name in enumerate(dict.fromkeys(self.stock))}
        self.stock_names = tuple(self.stock_index)  # each stock once, in table order
        self.stock_code = np.array([self.stock_index[s] for s in self.stock], dtype=np.intp)
        self.rows_of = {name: tuple(i for i, s in enumerate(self.stock) if s == name)
                        for name in self.stock_names}  # programmes of each stock, in order
        self.new_building = np.array([s in NEW_BUILDING_SHARES for s in self.stock_names])
        self.abs_unit_size = np.abs(self.unit_size)
        self.duration = np.maximum(self.lag, 1)  # years of construction jobs
        self.early_lag = np.maximum(self.lag - 1, 0)  # lag of the units completed a year early
        self.jobs_per_unit = np.where(self.creates_jobs, self.unit_size, self.operating_jobs)
        # the columns that :func:`_year_loop` reads, as two tables (rows in the order it reads)
        self.columns_f = np.stack([self.available_from, self.unit_cost, self.abs_unit_size,
                                   self.construction_jobs, self.unit_size, self.operating_jobs,
                                   self.jobs_per_unit]).astype(float)
        self.columns_i = np.stack([self.stock_code, self.area, self.lag, self.early_lag,
                                   self.duration, self.place_row, self.job_sector, self.sector,
                                   self.creates_jobs]).astype(np.int64)
        for value in vars(self).values():  # one table serves every model of a CountyData
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def __len__(self) -> int:
        return len(self.ids)

    def queued_of(self, stock: str, queued: np.ndarray) -> dict[str, float]:
        """``{stock: q}`` of :func:`urban_sim.targets.queued_by_stock` for one stock (the sum
        over its programmes in table order from 0.0, as that bincount adds); empty when no
        programme builds it.

        Parameters
        ----------
        stock : str
            Stock name.
        queued : numpy.ndarray of float, shape (n_programmes,)
            Queued additions by programme, in table order.
        """
        rows = self.rows_of.get(stock)
        if rows is None:
            return {}
        total = 0.0
        for i in rows:
            total += queued[i]
        return {stock: total}

    def weights(self, block: PolicyBlock, source: str = "scenario") -> np.ndarray:
        """Funding weights under a policy block (defaults × scenario weights × lever boosts)."""
        w = self.weight.copy()
        for name, value in block.investment.programme_weights.items():
            if name not in self.ids:
                raise ConfigError(f"{source}: unknown key 'investment.programme_weights.{name}'"
                                  f"{did_you_mean(name, self.ids)}")
            if value < 0:
                raise ConfigError(f"{source}: programme weight {name} = {value} must be ≥ 0")
            w[self.ids.index(name)] *= value
        levers = block.levers.model_dump()
        for lever, progs in LEVER_PROGRAMMES.items():
            for p in progs:
                if p in self.ids:
                    w[self.ids.index(p)] *= 1.0 + 2.0 * levers[lever]
        return w


class Government(mesa.Agent):
    """The county government: funds programmes, tracks projects under way and their jobs.

    Parameters
    ----------
    model : CountyModel
    programmes : Programmes
    n_places : int
        In-county places (county seat, town centres, village areas).
    """

    def __init__(self, model: mesa.Model, programmes: Programmes, n_places: int) -> None:
        super().__init__(model)
        self.programmes = programmes
        k = len(programmes)
        self.pipeline = np.zeros((MAX_LAG, k))  # units completing in t, t+1, ...
        self.construction = np.zeros((MAX_LAG, len(TASK_AREAS)))  # construction jobs by year, area
        self.construction_place = np.zeros((MAX_LAG, n_places))
        self.operating_jobs_by_area = np.zeros(len(TASK_AREAS))
        self.spend_by_area = np.zeros(len(TASK_AREAS))
        self.jobs_by_area = np.zeros(len(TASK_AREAS))
        self.carried = 0.0  # budget not spent last year, million yuan
        self.unspent = 0.0  # budget not spent this year (carried to the next)
        self._rules: tuple | None = None  # (targets, need rule, target tops), see rules()

    def invest_and_complete(self, budget: float, shares: np.ndarray, weights: np.ndarray,
                            need: np.ndarray, room: np.ndarray, queued: np.ndarray,
                            cost_factor: float, early_share: float, place_rows: np.ndarray,
                            year: int, attrition: float, n_places: int
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fund programmes for one year and start their projects, then complete this year's
        projects and advance the pipeline by one year (one compiled pass, :func:`_year_loop`).

        Parameters
        ----------
        budget : float
            Total investment this year, million yuan (last year's unspent funds are added).
        shares : numpy.ndarray, shape (8,)
            Task-area shares (sum 1).
        weights, need : numpy.ndarray, shape (n_programmes,)
            Funding weights and need factors (0.1–2).
        room : numpy.ndarray, shape (n_stocks,)
            Nominal amount (stock units, ≥ 0) that can still be added to each stock of
            :attr:`Programmes.stock_names`, inf for unbounded stocks
            (:func:`urban_sim.policy.allocation.programme_room`): each programme buys at most
            its headroom (room less what is queued, in units); the rest of the area's budget
            goes to its other programmes.
        queued : numpy.ndarray, shape (n_programmes,)
            Additions under construction (:meth:`queued`).
        cost_factor : float
            Multiplier on unit costs (construction cost × governance overruns).
        early_share : float
            Share (0–1) of this year's units completed one year before their lag (governance).
        place_rows : numpy.ndarray, shape (5, n_places)
            Distribution over places of each ``place`` key
            (:func:`urban_sim.policy.allocation.place_weight_rows`).
        year : int
            Calendar year: programmes with ``available_from`` after it get nothing.
        attrition : float
            Share of operating jobs lost per year.
        n_places : int

        Returns
        -------
        additions : numpy.ndarray, shape (n_stocks,)
            Amount added to each stock of :attr:`Programmes.stock_names` (units × unit size
            summed over its programmes in table order; 0 where nothing was completed).
        built : numpy.ndarray of bool, shape (n_stocks,)
            Stocks with completed units (jobs_* programmes excepted: their units are jobs),
            except the shares of new floor area (:data:`Programmes.new_building`): the stocks
            to add to.
        direct_jobs : numpy.ndarray, shape (n_places, n_sectors)
            Operating jobs created by completed projects.
        construction_jobs : numpy.ndarray, shape (n_places,)
            Construction jobs of projects under way this year.
        """
        p = self.programmes
        area_budget = (budget + self.carried) * shares
        (spend, self.spend_by_area, additions, built, direct, construction_jobs,
         self.operating_jobs_by_area, self.jobs_by_area) = _year(
            area_budget, weights, need, room, queued, year, cost_factor,
            min(max(early_share, 0.0), 1.0), attrition, p.columns_f, p.columns_i, self.pipeline,
            self.construction, self.construction_place, self.operating_jobs_by_area,
            place_rows, p.new_building, n_places, len(SECTORS))
        self.unspent = max(float(area_budget.sum() - spend.sum()), 0.0)
        self.carried = self.unspent
        return additions, built, direct, construction_jobs

    def queued(self) -> np.ndarray:
        """Stock additions funded and under construction (units × unit size) by programme,
        shape (n_programmes,)."""
        return self.pipeline.sum(axis=0) * self.programmes.unit_size

    def rules(self, targets: list) -> tuple[Need, dict[str, float]]:
        """The need rule of ``targets`` (:class:`urban_sim.policy.allocation.Need`) and their
        highest target values (:func:`urban_sim.targets.target_tops`), built once per programme
        table and target list and shared by the models that use them."""
        if self._rules is None or self._rules[0] is not targets:
            key = (id(self.programmes), *map(id, targets))
            entry = _RULES.get(key)
            if entry is None:
                if len(_RULES) > 16:
                    _RULES.clear()
                # the entry holds the programmes and targets, so their ids stay theirs
                entry = _RULES[key] = (self.programmes, tuple(targets),
                                       Need(self.programmes.stock, INDICATOR_OF_STOCK, targets),
                                       target_tops(targets))
            self._rules = (targets, entry[2], entry[3])
        return self._rules[1], self._rules[2]


_RULES: dict[tuple, tuple] = {}


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
                       area, pw):
    # jobs a year of the projects started this year: spend × jobs per million / duration (as
    # NumPy divides by the integer duration); year d of them: jobs by task area (in programme
    # order, as a bincount adds them) and by place (programme by programme, jobs × place
    # distribution)
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
                for j in range(pw.shape[1]):
                    construction_place[d, j] += jobs_per_year[i] * pw[i, j]


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


def _operating_loop(direct, units, unit_size, operating_jobs, job_sector, sector, pw):
    # operating jobs of completed units: a jobs_* unit is itself the job (units × unit size),
    # other programmes units × operating jobs per unit, spread over places
    for i in range(units.shape[0]):
        if units[i] > 0:
            if job_sector[i] >= 0:
                n, s = units[i] * unit_size[i], job_sector[i]
            elif operating_jobs[i] > 0:
                n, s = units[i] * operating_jobs[i], sector[i]
            else:
                continue
            for j in range(pw.shape[1]):
                direct[j, s] += n * pw[i, j]


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


def _year_loop(area_budget, weights, need, room, queued, year, cost_factor, early, attrition,
               columns_f, columns_i, pipeline, construction, construction_place,
               operating_by_area, place_rows, new_building, n_places, n_sectors):
    # one year of the government in one call, the kernels above in the order of the former
    # invest (headroom, allocation, construction jobs) and complete (operating jobs of this
    # year's units, additions, the stocks to add to (built, new-building shares excepted),
    # the new operating and total jobs by area as NumPy computed them, construction jobs of
    # this year, pipeline advance); the programme columns come as the two tables of
    # Programmes (columns_f, columns_i)
    available_from, unit_cost, abs_unit_size = columns_f[0], columns_f[1], columns_f[2]
    jobs_per_million, unit_size, operating_jobs, jobs_per_unit = (
        columns_f[3], columns_f[4], columns_f[5], columns_f[6])
    stock_code, area, lag, early_lag, duration = (
        columns_i[0], columns_i[1], columns_i[2], columns_i[3], columns_i[4])
    place_row, job_sector, sector, creates_jobs = (
        columns_i[5], columns_i[6], columns_i[7], columns_i[8])
    pm = np.empty((place_row.shape[0], place_rows.shape[1]))  # the place distribution of each programme
    for i in range(place_row.shape[0]):
        pm[i] = place_rows[place_row[i]]
    headroom = _headroom(room, queued, stock_code, abs_unit_size)
    spend, by_area = _allocate(area_budget, weights, need, available_from, year, headroom,
                               unit_cost, cost_factor, area, pipeline, lag, early_lag, early)
    _construction_jobs(construction, construction_place, spend, jobs_per_million, duration,
                       area, pm)
    units = pipeline[0]
    direct = np.zeros((n_places, n_sectors))
    _operating_jobs(direct, units, unit_size, operating_jobs, job_sector, sector, pm)
    additions, built, operating = _completed(units, unit_size, creates_jobs, stock_code, area,
                                             jobs_per_unit, new_building.shape[0],
                                             area_budget.shape[0])
    for s in range(built.shape[0]):
        built[s] = built[s] and not new_building[s]
    kept = 1.0 - attrition
    ops = np.empty(operating_by_area.shape[0])
    jobs = np.empty(operating_by_area.shape[0])
    for a in range(ops.shape[0]):
        ops[a] = operating_by_area[a] * kept + operating[a]
        jobs[a] = construction[0, a] + ops[a]
    construction_jobs = construction_place[0].copy()
    _advance(pipeline, construction, construction_place)
    return spend, by_area, additions, built, direct, construction_jobs, ops, jobs


_year = _jit(_year_loop)
