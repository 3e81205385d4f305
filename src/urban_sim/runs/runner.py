"""Running a scenario: one replicate in this process, or an ensemble on an executor."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.data.tables import load_county_cached
from urban_sim.runs.ensemble import plan_runs, run_ensemble
from urban_sim.runs.executors import make_executor
from urban_sim.runs.single import TS_COLUMNS, simulate
from urban_sim.runs.store import ResultsStore
from urban_sim.targets import attainment, scenario_targets

@dataclass
class RunSet:
    """Result of :func:`run_scenario`.

    Attributes
    ----------
    timeseries : pandas.DataFrame
        All replicates, long format (:data:`TS_COLUMNS`), in replicate order.
    targets : pandas.DataFrame
        Target table: ``indicator, year, operator, target, target_high, task_area, value, met``
        for replicate 0, plus ``mean, p05, p95, p_met`` over replicates.
    seeds : list of dict
        Entropy and spawn key of each replicate's seed.
    run_ids : list of str
    n_failed, n_skipped : int
        Failed runs, and runs found finished from an earlier (interrupted) call.
    wall_seconds : float
    """

    timeseries: pd.DataFrame
    targets: pd.DataFrame
    seeds: list = field(default_factory=list)
    run_ids: list = field(default_factory=list)
    n_failed: int = 0
    n_skipped: int = 0
    failures: list = field(default_factory=list)
    wall_seconds: float = 0.0


def target_table(scenario_targets, timeseries: pd.DataFrame) -> pd.DataFrame:
    """Target attainment for the first replicate and across replicates (see :class:`RunSet`).

    A replicate mean over values that are all NaN is NaN (never 0).
    """
    county = timeseries[timeseries["place"] == "county"]
    per_rep = []
    for rep, frame in county.groupby("replicate", sort=True):
        a = attainment(scenario_targets, frame)
        a["replicate"] = rep
        per_rep.append(a)
    allrep = pd.concat(per_rep, ignore_index=True)
    first = per_rep[0].drop(columns="replicate")
    g = allrep.groupby(["indicator", "year"], sort=False)
    stats = pd.DataFrame({
        "mean": g["value"].mean(),
        "p05": g["value"].quantile(0.05),
        "p95": g["value"].quantile(0.95),
        "p_met": g["met"].apply(lambda s: s.astype("Float64").mean()),
    }).reset_index()
    return first.merge(stats, on=["indicator", "year"], how="left")


def run_scenario(scenario: Scenario, *, n_replicates: int = 1, engine: str = "processes",
                 workers: int | None = 1, scheduler: str | None = None,
                 store_dir: str | Path | None = None, progress: bool = False) -> RunSet:
    """Run ``n_replicates`` replicates of a scenario, resuming finished runs in ``store_dir``.

    Parameters
    ----------
    scenario : Scenario
    n_replicates : int
        ≥ 1; seeds are spawned from ``scenario.seed``.
    engine, workers, scheduler
        See :func:`urban_sim.runs.executors.make_executor`. Results do not depend on them.
    store_dir : path, optional
        Results store (one Parquet file per finished run); default a temporary folder.
    progress : bool
        Show a progress bar on stderr.
    """
    specs = plan_runs([scenario], n_replicates, scenario.seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(store_dir or tmp)
        single = n_replicates == 1 and not scheduler  # one run: no pool to start
        with make_executor("sequential" if single else engine, workers=workers,
                           scheduler=scheduler) as ex:
            res = run_ensemble(specs, store, ex, progress=progress)
    ts = res.timeseries[TS_COLUMNS] if len(res.timeseries) else pd.DataFrame(columns=TS_COLUMNS)
    targets = (target_table(scenario_targets(scenario, load_county_cached(scenario.data_dir)), ts)
               if len(ts) else pd.DataFrame())
    return RunSet(ts, targets, res.seeds, [s.run_id for s in specs], res.n_failed, res.n_skipped,
                  res.failures, res.wall_seconds)


__all__ = ["RunSet", "TS_COLUMNS", "run_scenario", "simulate", "target_table"]
