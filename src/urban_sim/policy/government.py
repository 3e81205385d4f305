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
from urban_sim.errors import ConfigError, did_you_mean
from urban_sim.population.kernels import _jit
from urban_sim.population.state import SECTORS

LEVER_PROGRAMMES: dict[str, tuple[str, ...]] = {
    "school_expansion_priority": ("school_expansion", "special_education"),
    "tourism_promotion": ("tourism_qikou", "yellow_river_tourism_road", "county_branding"),
    "vocational_training_intensity": ("vocational_training", "vocational_schools"),
    "housing_support_share": ("social_housing",),
    "land_reform": ("homestead_revitalisation", "land_management"),
}
"""Programmes whose funding weight a lever multiplies by ``1 + 2 × lever`` (assumption)."""

MAX_LAG = 8


class Programmes:
    """Programme table as columns (from ``programmes.csv``).

    Raises
    ------
    ConfigError
        If a scenario names a programme weight for a programme that does not exist.
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
        self.place_keys = sorted(set(self.place))
        self.place_code = np.array([self.place_keys.index(k) for k in self.place])
        for value in vars(self).values():  # one table serves every model of a CountyData
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def place_matrix(self, place_weights: dict[str, np.ndarray]) -> np.ndarray:
        """Row ``i``: the distribution over places of programme ``i``'s ``place`` key, shape
        (n_programmes, n_places)."""
        return np.stack([place_weights[k] for k in self.place_keys]).take(self.place_code, axis=0)

    def __len__(self) -> int:
        return len(self.ids)

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

    def invest(self, budget: float, shares: np.ndarray, weights: np.ndarray, need: np.ndarray,
               headroom: np.ndarray, cost_factor: float, early_share: float,
               place_weights: dict[str, np.ndarray], year: int) -> None:
        """Fund programmes for one year and start their projects.

        Parameters
        ----------
        budget : float
            Total investment this year, million yuan (last year's unspent funds are added).
        shares : numpy.ndarray, shape (8,)
            Task-area shares (sum 1).
        weights, need : numpy.ndarray, shape (n_programmes,)
            Funding weights and need factors (0.1–2).
        headroom : numpy.ndarray, shape (n_programmes,)
            Units that can still be useful (inf for uncapped stocks); spending stops there and
            the rest of the area's budget goes to its other programmes.
        cost_factor : float
            Multiplier on unit costs (construction cost × governance overruns).
        early_share : float
            Share (0–1) of this year's units completed one year before their lag (governance).
        place_weights : dict[str, numpy.ndarray]
            Distribution over places of each programme ``place`` key (sums to 1).
        year : int
            Calendar year: programmes with ``available_from`` after it get nothing.
        """
        p = self.programmes
        area_budget = (budget + self.carried) * shares
        w = weights * need * (p.available_from <= year)
        cost = p.unit_cost * cost_factor
        spend = np.zeros(len(p))
        cap_spend = np.where(np.isfinite(headroom), np.maximum(headroom, 0) * cost, np.inf)
        for _ in range(3):  # redistribute what capped programmes cannot use
            left = area_budget - np.bincount(p.area, weights=spend, minlength=len(TASK_AREAS))
            open_ = (spend < cap_spend - 1e-9) & (w > 0)
            wsum = np.bincount(p.area, weights=np.where(open_, w, 0.0), minlength=len(TASK_AREAS))
            add = np.where(open_, left[p.area] * w / np.where(wsum[p.area] > 0, wsum[p.area], 1.0), 0.0)
            spend = np.minimum(spend + add, cap_spend)
        units = spend / np.where(cost > 0, cost, np.inf)
        lag = p.lag
        e = min(max(early_share, 0.0), 1.0)
        idx = np.arange(len(p))
        np.add.at(self.pipeline, (lag, idx), units * (1.0 - e))
        np.add.at(self.pipeline, (np.maximum(lag - 1, 0), idx), units * e)
        self.spend_by_area = np.bincount(p.area, weights=spend, minlength=len(TASK_AREAS))
        self.unspent = max(float(area_budget.sum() - spend.sum()), 0.0)
        self.carried = self.unspent
        duration = np.maximum(lag, 1)
        jobs_per_year = spend * p.construction_jobs / duration
        _construction_jobs(self.construction, self.construction_place, jobs_per_year, duration,
                           p.area, p.place_matrix(place_weights))

    def complete(self, attrition: float, place_weights: dict[str, np.ndarray],
                 n_places: int) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """Complete this year's projects and advance the pipeline by one year.

        Returns
        -------
        additions : dict[str, float]
            Amount added to each stock.
        direct_jobs : numpy.ndarray, shape (n_places, n_sectors)
            Operating jobs created by completed projects.
        construction_jobs : numpy.ndarray, shape (n_places,)
            Construction jobs of projects under way this year.
        """
        p = self.programmes
        units = self.pipeline[0].copy()
        additions: dict[str, float] = {}
        direct = np.zeros((n_places, len(SECTORS)))
        _operating_jobs(direct, units, p.unit_size, p.operating_jobs, p.job_sector, p.sector,
                        p.place_matrix(place_weights))
        for i in np.flatnonzero((units > 0) & ~p.creates_jobs).tolist():
            additions[p.stock[i]] = additions.get(p.stock[i], 0.0) + units[i] * p.unit_size[i]
        op_jobs = units * np.where(p.creates_jobs, p.unit_size, p.operating_jobs)
        self.operating_jobs_by_area = self.operating_jobs_by_area * (1 - attrition) + np.bincount(
            p.area, weights=op_jobs, minlength=len(TASK_AREAS))
        construction_jobs = self.construction_place[0].copy()
        self.jobs_by_area = self.construction[0] + self.operating_jobs_by_area
        for arr in (self.pipeline, self.construction, self.construction_place):
            arr[:-1] = arr[1:]
            arr[-1] = 0
        return additions, direct, construction_jobs

    def headroom(self, room: dict[str, float]) -> np.ndarray:
        """Units each programme may still usefully buy, shape (n_programmes,).

        Parameters
        ----------
        room : dict[str, float]
            Nominal amount (stock units, ≥ 0) that can still be added to each bounded stock
            (:meth:`urban_sim.services.stocks.Stocks.room`, sites left for counted facilities,
            floor area left for new-building shares); stocks not named are unbounded.
        """
        p = self.programmes
        queued = np.abs(self.pipeline.sum(axis=0) * p.unit_size)
        out = np.full(len(p), np.inf)
        for i, name in enumerate(p.stock):
            if name in room:
                out[i] = (room[name] - queued[i]) / abs(p.unit_size[i])
        return out


def _construction_loop(construction, construction_place, jobs_per_year, duration, area, pw):
    # year d of the projects started this year: jobs by task area (in programme order, as a
    # bincount adds them) and by place (programme by programme, jobs × place distribution)
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


_construction_jobs = _jit(_construction_loop)
_operating_jobs = _jit(_operating_loop)
