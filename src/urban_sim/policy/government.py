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

import operator

import mesa
import numpy as np
import pandas as pd

from urban_sim.config.schema import TASK_AREAS, PolicyBlock
from urban_sim.errors import ConfigError, DataError, did_you_mean
from urban_sim.policy.allocation import PLACE_ROWS, Need, place_masks, place_weight_rows
from urban_sim.population.state import SECTORS
from urban_sim.services.stock_kernels import _stock_year, _year, pack_constants
from urban_sim.services.stocks import NEW_BUILDING_SHARES, Stocks
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
        # the columns that stock_kernels._year_loop reads, as two tables (rows in the order it
        # reads)
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
        # this year's results (:meth:`invest_and_complete`), written in place every year
        n_stocks = len(programmes.stock_names)
        self.additions, self.built = np.zeros(n_stocks), np.zeros(n_stocks, dtype=bool)
        self.direct_jobs = np.zeros((n_places, len(SECTORS)))
        self.construction_jobs = np.zeros(n_places)
        self.place_rows = np.zeros((len(PLACE_ROWS), n_places))
        self.spend = np.zeros(k)
        self._places: tuple | None = None  # (place_type, qikou_place, their place masks)
        self._stocks_seen: tuple | None = None  # (stocks, size, sites, layout): _stock_layout
        self._rules: tuple | None = None  # (targets, need rule, target tops), see rules()
        self._queued: tuple | None = None  # (pipeline, queued()), until the pipeline changes
        self._sites: tuple | None = None  # (site counts, their names, their values as an array)
        self._rows: dict[tuple, tuple] = {}  # stock_rows()
        self._packed: tuple | None = None  # (layout, need rule, their tables): _packed

    def invest_and_complete(self, budget: float, shares: np.ndarray, weights: np.ndarray,
                            need: np.ndarray, room: np.ndarray, queued: np.ndarray,
                            cost_factor: float, early_share: float, residents: np.ndarray,
                            place_type: np.ndarray, qikou_place: np.ndarray, year: int,
                            attrition: float
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fund programmes for one year and start their projects, then complete this year's
        projects and advance the pipeline by one year (one compiled pass,
        :func:`urban_sim.services.stock_kernels._year_loop`).

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
            (as :meth:`invest_and_add` computes it): each programme buys at most
            its headroom (room less what is queued, in units); the rest of the area's budget
            goes to its other programmes.
        queued : numpy.ndarray, shape (n_programmes,)
            Additions under construction (:meth:`queued`).
        cost_factor : float
            Multiplier on unit costs (construction cost × governance overruns).
        early_share : float
            Share (0–1) of this year's units completed one year before their lag (governance).
        residents : numpy.ndarray of float, shape (n_places,)
            Residents by in-county place (for the distribution over places of each programme
            ``place`` key, :func:`urban_sim.policy.allocation.place_weight_rows`).
        place_type : numpy.ndarray of int, shape (n_places,)
            0 county seat, 1 town centre, 2 village area (not modified while a model runs:
            their rows are kept while the same arrays are passed).
        qikou_place : numpy.ndarray of bool, shape (n_places,)
        year : int
            Calendar year: programmes with ``available_from`` after it get nothing.
        attrition : float
            Share of operating jobs lost per year.

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
        place_rows : numpy.ndarray, shape (5, n_places)
            :func:`urban_sim.policy.allocation.place_weight_rows` of ``residents``.

        Notes
        -----
        The returned arrays are the government's own (:attr:`additions`, :attr:`built`, …),
        rewritten by the next call: nothing keeps them beyond the year.
        """
        p = self.programmes
        masks = self._place_masks(residents, place_type, qikou_place)
        total = budget + self.carried
        self._queued = None  # the pipeline changes
        self._carry(total, shares, _year(
            total, shares, weights, need, room, queued, year, cost_factor,
            min(max(early_share, 0.0), 1.0), attrition, p.columns_f, p.columns_i, self.pipeline,
            self.construction, self.construction_place, self.operating_jobs_by_area,
            residents, masks, p.new_building, self.place_rows, self.spend, self.spend_by_area,
            self.additions, self.built, self.direct_jobs, self.construction_jobs,
            self.jobs_by_area))
        return self.additions, self.built, self.direct_jobs, self.construction_jobs, self.place_rows

    def invest_and_add(self, stocks: Stocks, groups: dict[str, float], need_rule: Need,
                       values: dict[str, float], use: list[float], site_counts: dict[str, float],
                       standard: dict[str, float], new_m2: float, budget: float,
                       shares: np.ndarray, weights: np.ndarray, queued: np.ndarray,
                       cost_factor: float, early_share: float, residents: np.ndarray,
                       place_type: np.ndarray, qikou_place: np.ndarray, year: int,
                       attrition: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`invest_and_complete` with its room and need, then the year's depreciation
        and the additions to the stocks, in one compiled call
        (:func:`urban_sim.services.stock_kernels._stock_year_loop`).

        The same as, in this order: the room of each programme stock (:meth:`Stocks.rooms`,
        then the sites left of the counted facilities, then for the new-building shares the
        thousand m² of ``new_m2`` not yet meeting the standard; ``programme_room`` in
        ``tests/test_kernels_government.py``),
        ``need = need_rule(values, year, use)``, :meth:`invest_and_complete`,
        :meth:`Stocks.depreciate` and :meth:`Stocks.add_all` of the additions where built
        (every value of the table is written back, as a Python float); the same pass leaves
        next year's :meth:`queued` (kept until the pipeline changes).

        Parameters
        ----------
        stocks : Stocks
            Read, then written (depreciation and additions).
        groups : dict[str, float]
            Population groups (persons) of the served capacities.
        need_rule : Need
            The need rule of the targets (:meth:`rules`).
        values : dict[str, float]
            Indicator values (:func:`urban_sim.targets.indicator_values`).
        use : list of float
            Utilisation of each capacity of :data:`urban_sim.policy.allocation.USE_STOCKS`.
        site_counts : dict[str, float]
            Sites of each counted-facility stock (:func:`urban_sim.targets.sites`): the room
            of a programme stock among them is the sites left (read once while the same dict
            is passed: not to be modified).
        standard : dict[str, float]
            Share of new floor area meeting each standard without county money
            (:func:`urban_sim.policy.allocation.building_standards`).
        new_m2 : float
            New urban floor area this year, m².
        budget, shares, weights, queued, cost_factor, early_share, residents, place_type, \
qikou_place, year, attrition
            As :meth:`invest_and_complete`.

        Returns
        -------
        tuple of numpy.ndarray
            As :meth:`invest_and_complete`.

        Raises
        ------
        DataError
            If a site stock, or a stock with additions, is not in the table (the stocks are
            then left unchanged).
        """
        p = self.programmes
        sc = self._sites
        if sc is None or sc[0] is not site_counts:  # the caller passes the same dict while it holds
            sc = self._sites = (site_counts, tuple(site_counts),
                                np.array(list(site_counts.values()), dtype=float))
        lay = self._stock_layout(stocks, sc[1])
        keys, get, group_names, nb_names = lay[0], lay[1], lay[5], lay[11]
        r = need_rule
        packed = self._packed
        if packed is None or packed[0] is not lay or packed[1] is not r:
            packed = self._packed = _packed(lay, r, p)
        value = np.array(get(stocks.value), dtype=float)
        masks = self._place_masks(residents, place_type, qikou_place)
        total = budget + self.carried
        n_programmes = len(p.ids)
        queued_next = np.empty(n_programmes)  # next year's queued(): callers may keep this year's
        inputs = [max(groups[n], 1e-9) for n in group_names]  # the year's values, one array
        inputs += map(standard.__getitem__, nb_names)
        inputs += r.indicator_values(values)
        inputs += use
        unspent, missing = _stock_year(value, packed[2], packed[3],
                    np.array(inputs, dtype=float), len(group_names), len(r.indicators),
                    stocks.overshoot, sc[2], new_m2, r.ahead(year), total, shares, weights,
                    queued, year, cost_factor, min(max(early_share, 0.0), 1.0), attrition,
                    self.pipeline, self.construction, self.construction_place,
                    self.operating_jobs_by_area, residents, masks, self.place_rows, self.spend,
                    self.spend_by_area, self.additions, self.built, self.direct_jobs,
                    self.construction_jobs, self.jobs_by_area, queued_next)
        self._queued = (self.pipeline, queued_next) if n_programmes > 1 else None  # the kernel's
        self._carry(total, shares, unspent)
        if missing >= 0:  # a stock with additions, not in the table (the kernel's check)
            raise DataError(f"stocks.csv: no stock named {p.stock_names[missing]!r}")
        stocks.value.update(zip(keys, value.tolist()))
        return self.additions, self.built, self.direct_jobs, self.construction_jobs, self.place_rows

    def _carry(self, total: float, shares: np.ndarray, unspent: float) -> None:
        """Keep the budget not spent of the compiled year (``total`` budget, task-area
        ``shares``), as NumPy sums it when the year could not (NaN: more than 128
        programmes)."""
        if unspent != unspent:
            unspent = max(float((total * shares).sum() - self.spend.sum()), 0.0)
        self.unspent = self.carried = unspent

    def _place_masks(self, residents: np.ndarray, place_type: np.ndarray,
                     qikou_place: np.ndarray) -> np.ndarray:
        """:func:`urban_sim.policy.allocation.place_masks` (kept while the same arrays are
        passed); with more than 128 places (one block of NumPy's sum, all the compiled pass
        sums) the place rows of ``residents`` into :attr:`place_rows` here."""
        key = self._places
        if key is None or key[0] is not place_type or key[1] is not qikou_place:
            key = self._places = (place_type, qikou_place, place_masks(place_type, qikou_place))
        if len(residents) > 128:
            self.place_rows[:] = place_weight_rows(residents, place_type, qikou_place)
        return key[2]

    def _stock_layout(self, stocks: Stocks, site_names: tuple[str, ...]) -> tuple:
        """What :meth:`invest_and_add` reads of the stock table: its names and a reader of
        their values, the programme stocks' positions there (-1: not in the table) and
        :meth:`Stocks.layout`, the site stocks' rows and positions, the new-building shares'
        names and rows, the depreciation's positions, rates and directions; kept while the
        table has the same stocks, and shared by the models with the same programme table,
        stock names, site names, depreciation and bounds (built once, not once a run).

        Raises
        ------
        DataError
            If a site stock is not in the table.
        """
        last = self._stocks_seen
        if last is not None and last[0] is stocks and last[1] == len(stocks.value) \
                and last[2] == site_names:
            return last[3]
        p, keys = self.programmes, tuple(stocks.value)
        key = (id(p), keys, site_names, tuple(stocks.depreciation),
               tuple(map(stocks.bounds.get, p.stock_names)))  # all that the layout reads
        entry = _LAYOUTS.get(key)
        if entry is None:
            if len(_LAYOUTS) > 16:
                _LAYOUTS.clear()
            entry = _LAYOUTS[key] = (p, self._new_layout(stocks, keys, site_names))  # p: its id
        self._stocks_seen = (stocks, len(stocks.value), site_names, entry[1])
        return entry[1]

    def _new_layout(self, stocks: Stocks, keys: tuple[str, ...], site_names: tuple[str, ...]
                    ) -> tuple:
        """The layout of :meth:`_stock_layout` of the table ``stocks`` (names ``keys``)."""
        p = self.programmes
        at = {name: i for i, name in enumerate(keys)}
        for name in site_names:
            if name not in at:
                stocks[name]  # raises DataError
        kind, group, group_names, lo, hi, lower, _, _ = stocks.layout(p.stock_names, True)
        nb_names = tuple(n for n in NEW_BUILDING_SHARES if n in p.stock_index)
        dep = stocks.depreciation
        get = operator.itemgetter(*keys) if len(keys) > 1 else (lambda v: [v[n] for n in keys])
        layout = (keys, get, np.array([at.get(n, -1) for n in p.stock_names], dtype=np.int64),
                  kind, group, group_names, lo, hi, lower,
                  np.array([p.stock_index.get(n, -1) for n in site_names], dtype=np.int64),
                  np.array([at[n] for n in site_names], dtype=np.int64), nb_names,
                  np.array([p.stock_index[n] for n in nb_names], dtype=np.int64),
                  np.array([at[d[0]] for d in dep], dtype=np.int64),
                  np.array([d[1] for d in dep], dtype=float),
                  np.array([d[2] for d in dep], dtype=bool))
        return layout

    def stock_rows(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Position of each stock of ``names`` in :attr:`additions` (:attr:`Programmes.stock_names`),
        -1 if no programme builds it; kept by ``names``."""
        rows = self._rows.get(names)
        if rows is None:
            at = self.programmes.stock_index.get
            rows = self._rows[names] = tuple(at(n, -1) for n in names)
        return rows

    def queued(self) -> np.ndarray:
        """Stock additions funded and under construction (units × unit size) by programme,
        shape (n_programmes,); computed once a year (kept until the government's year changes
        its pipeline, or another pipeline array replaces it): not to be modified."""
        q = self._queued
        if q is None or q[0] is not self.pipeline:
            q = self._queued = (self.pipeline, self.pipeline.sum(axis=0) * self.programmes.unit_size)
        return q[1]

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


def _packed(layout: tuple, need: Need, programmes: Programmes) -> tuple:
    """``(layout, need, ints, floats, programmes)``: the tables of
    :func:`urban_sim.services.stock_kernels.pack_constants` of a stock layout
    (:meth:`Government._stock_layout`, made for ``programmes``), need rule and programme
    table, made once for the models that share them (the entry holds them: their ids stay
    theirs)."""
    key = (id(layout), id(need), id(programmes))
    entry = _PACKED.get(key)
    if entry is None:
        if len(_PACKED) > 16:
            _PACKED.clear()
        (_, _, stock_pos, kind, group, _, lo, hi, lower, site_row, site_pos, _, nb_row,
         dep_pos, dep_rate, dep_lower) = layout
        entry = _PACKED[key] = (layout, need, *pack_constants(
            stock_pos, kind, group, lower, site_row, site_pos, nb_row, dep_pos, dep_lower, lo,
            hi, dep_rate, need, programmes), programmes)
    return entry


_RULES: dict[tuple, tuple] = {}
_PACKED: dict[tuple, tuple] = {}
_LAYOUTS: dict[tuple, tuple] = {}  # Government._stock_layout's layouts (and their programmes)
