"""What-if runs behind the dashboard: settings → scenario → one small real model run → views.

Plain Python (no solara), so the dashboard's numbers are tested without a browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.analysis.compare import scorecard
from urban_sim.config.loader import load_scenario, with_overrides
from urban_sim.config.schema import TASK_AREAS, Levers, Scenario
from urban_sim.data.tables import load_county_cached
from urban_sim.model.outputs import ZONES, jobs_created_in
from urban_sim.runs.single import simulate
from urban_sim.targets import scenario_targets

LEVERS: tuple[str, ...] = tuple(Levers.model_fields)
"""The policy levers (model.md §7), each in [0, 1]."""

LEVER_LABELS: dict[str, tuple[str, str]] = {
    "hukou_service_access": ("Hukou-free access to services", "非户籍人口享受基本公共服务"),
    "housing_support_share": ("Housing support for newcomers", "进城住房支持"),
    "land_reform": ("Land reform (renting, homestead withdrawal)", "农村土地制度改革"),
    "vocational_training_intensity": ("Vocational training", "职业技能培训"),
    "school_expansion_priority": ("Priority to county-seat schools", "县城学位扩容优先"),
    "tourism_promotion": ("Tourism promotion", "文旅推广"),
}
"""Lever → (English, Chinese) labels shown next to the sliders."""

UNCERTAINTY_SCENARIOS: dict[str, dict[str, float]] = {
    "central": {},
    "weak_economy": {"uncertainties.outside_wage_growth_rate_per_year": 0.02,
                     "uncertainties.local_wage_growth_rate_per_year": 0.02,
                     "uncertainties.energy_price_index": 0.8},
    "strong_economy": {"uncertainties.outside_wage_growth_rate_per_year": 0.06,
                       "uncertainties.local_wage_growth_rate_per_year": 0.07,
                       "uncertainties.energy_price_index": 1.2},
    "costly_construction": {"uncertainties.construction_cost_multiplier": 1.3},
}
"""Named settings of the uncertainties (overrides of the scenario's own values; ``central``
keeps them). The values are labelled assumptions chosen to span plausible futures for the
dashboard, not estimates."""

UNCERTAINTY_LABELS = {
    "central": ("central (the scenario's values)", "中心情形（情景文件取值）"),
    "weak_economy": ("weak economy (slow wage growth, low energy prices)", "经济偏弱（工资增长慢、能源价格低）"),
    "strong_economy": ("strong economy (fast wage growth, high energy prices)", "经济偏强（工资增长快、能源价格高）"),
    "costly_construction": ("construction 30 % dearer", "建设成本上升 30%"),
}


@dataclass
class Settings:
    """What the dashboard's controls set.

    Attributes
    ----------
    scenario : str
        Shipped scenario name or scenario file the settings start from.
    levers : dict[str, float]
        Lever values in [0, 1] (policy block, from ``policy.start_year``).
    shares : dict[str, float]
        Task-area budget weights (≥ 0; normalised to shares summing to 1).
    total_million_yuan : float
        Annual investment in the policy's first year (million yuan).
    uncertainty : str
        Key of :data:`UNCERTAINTY_SCENARIOS`.
    scale : float
        Fraction of the population simulated (0.1 ≈ 0.1–1 s per run).
    """

    scenario: str = "plan"
    levers: dict[str, float] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)
    total_million_yuan: float | None = None
    uncertainty: str = "central"
    scale: float = 0.1

    @classmethod
    def from_scenario(cls, scenario: str = "plan", scale: float = 0.1) -> Settings:
        """Settings equal to the scenario file's policy block."""
        sc = load_scenario(scenario)
        inv = sc.policy.investment
        return cls(scenario=scenario, levers={k: float(getattr(sc.policy.levers, k)) for k in LEVERS},
                   shares={a: float(getattr(inv.task_area_shares, a)) for a in TASK_AREAS},
                   total_million_yuan=float(inv.total_million_yuan), scale=scale)


def build_scenario(settings: Settings) -> Scenario:
    """The scenario the settings describe (validated like a file).

    Raises
    ------
    ConfigError
        A lever or budget outside its allowed range, or an unknown uncertainty scenario.
    """
    from urban_sim.errors import ConfigError

    if settings.uncertainty not in UNCERTAINTY_SCENARIOS:
        raise ConfigError(f"uncertainty {settings.uncertainty!r}: not one of {list(UNCERTAINTY_SCENARIOS)}")
    base = load_scenario(settings.scenario)
    over: dict[str, float] = {"scale": settings.scale, **UNCERTAINTY_SCENARIOS[settings.uncertainty]}
    over.update({f"policy.levers.{k}": float(v) for k, v in settings.levers.items()})
    if settings.shares:
        total = sum(max(float(v), 0.0) for v in settings.shares.values())
        if total <= 0:
            raise ConfigError("shares: at least one task area needs a positive budget weight")
        full = {a: max(float(settings.shares.get(a, 0.0)), 0.0) / total for a in TASK_AREAS}
        over.update({f"policy.investment.task_area_shares.{a}": v for a, v in full.items()})
    if settings.total_million_yuan is not None:
        over["policy.investment.total_million_yuan"] = float(settings.total_million_yuan)
    return with_overrides(base, over)


@dataclass
class WhatIf:
    """One what-if run and its views.

    Attributes
    ----------
    timeseries : pandas.DataFrame
        Long timeseries of the run.
    seconds : float
        Wall time of the model run.
    population : pandas.DataFrame
        Residents by year (rows) and zone (columns ``county_seat, towns, villages, outside``).
    urbanization : pandas.Series
        Urbanization rate (0–1) by year.
    jobs : pandas.Series
        Jobs attributable to investment by task area in the last year.
    scorecard : pandas.DataFrame
        Target rows with ``value`` (this run) and ``baseline`` (the reference run) and
        ``met``/``baseline_met``.
    """

    timeseries: pd.DataFrame
    seconds: float
    population: pd.DataFrame
    urbanization: pd.Series
    jobs: pd.Series
    scorecard: pd.DataFrame

    @property
    def final_urbanization(self) -> float:
        """Urbanization rate in the last simulated year."""
        return float(self.urbanization.iloc[-1])


_REFERENCE: dict[tuple, pd.DataFrame] = {}


def _views(ts: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    pop = ts[(ts["indicator"] == "resident_population") & ts["place"].isin(ZONES)]
    pop = pop.pivot_table(index="year", columns="place", values="value").reindex(columns=list(ZONES))
    urb = ts[(ts["indicator"] == "urbanization_rate") & (ts["place"] == "county")].set_index("year")["value"]
    end = ts[(ts["place"] == "county") & (ts["year"] == ts["year"].max())].set_index("indicator")["value"]
    jobs = pd.Series({a: float(end.get(jobs_created_in(a), np.nan)) for a in TASK_AREAS})
    return pop, urb, jobs


def run_what_if(settings: Settings, *, reference: str = "baseline") -> WhatIf:
    """Run the settings once (seed of the scenario, scale ``settings.scale``) and the reference
    scenario under the same uncertainty and scale (cached), and build the dashboard's views."""
    scenario = build_scenario(settings)
    data = load_county_cached(scenario.data_dir)
    seed = np.random.SeedSequence(scenario.seed)
    t0 = time.perf_counter()
    ts = simulate(scenario, seed, data=data)
    seconds = time.perf_counter() - t0
    key = (reference, settings.uncertainty, settings.scale, scenario.seed, scenario.end_year)
    if key not in _REFERENCE:
        ref = with_overrides(load_scenario(reference), {"scale": settings.scale, "seed": scenario.seed,
                                                        "end_year": scenario.end_year,
                                                        **UNCERTAINTY_SCENARIOS[settings.uncertainty]})
        _REFERENCE[key] = simulate(ref, seed, data=data)
    targets = scenario_targets(scenario, data)
    both = scorecard(pd.concat([ts.assign(scenario="what_if"), _REFERENCE[key].assign(scenario="reference")]),
                     targets)
    mine = both[both["scenario"] == "what_if"].reset_index(drop=True)
    theirs = both[both["scenario"] == "reference"].reset_index(drop=True)
    card = mine[["indicator", "year", "operator", "target", "target_high"]].assign(
        value=mine["mean"], met=mine["p_met"] >= 1, baseline=theirs["mean"], baseline_met=theirs["p_met"] >= 1)
    card = card[mine["n"] > 0].reset_index(drop=True)
    pop, urb, jobs = _views(ts)
    return WhatIf(ts, seconds, pop, urb, jobs, card)


def run_full(settings: Settings, out: str | Path, *, n_replicates: int = 10, scale: float = 1.0,
             lang: str = "en", workers: int | None = None) -> Path:
    """Run the full ensemble of the settings and save it as a normal ``run`` output folder.

    Returns
    -------
    pathlib.Path
        The output folder (with ``report.html``).
    """
    import datetime as dt

    from urban_sim.reports.output import write_run_folder
    from urban_sim.runs.runner import run_scenario

    scenario = with_overrides(build_scenario(settings), {"scale": scale})
    started = dt.datetime.now(dt.timezone.utc)
    result = run_scenario(scenario, n_replicates=n_replicates, engine="processes", workers=workers,
                          store_dir=out)
    return write_run_folder(out, scenario, result, started=started, lang=lang)


__all__ = ["LEVERS", "LEVER_LABELS", "Settings", "UNCERTAINTY_SCENARIOS", "WhatIf", "build_scenario", "run_full",
           "run_what_if"]
