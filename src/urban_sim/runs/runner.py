"""Running scenarios: an ensemble on an executor chosen by name, and one scenario's replicates."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.data.tables import load_county_cached
from urban_sim.runs.ensemble import EnsembleResult, RunSpec, plan_runs, run_ensemble
from urban_sim.runs.executors import make_executor
from urban_sim.runs.single import TS_COLUMNS, simulate
from urban_sim.runs.store import ResultsStore
from urban_sim.targets import attainment, scenario_targets


def target_table(scenario_targets, timeseries: pd.DataFrame) -> pd.DataFrame:
    """Target attainment for the first replicate and across replicates.

    Columns ``indicator, year, operator, target, target_high, task_area, value, met`` for
    replicate 0, plus ``mean, p05, p95, p_met`` over replicates. A replicate mean over values
    that are all NaN is NaN (never 0).
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


def run_many(specs: list[RunSpec], *, store_dir: str | Path | None = None,
             engine: str = "processes", workers: int | None = None, scheduler: str | None = None,
             progress: bool = False, desc: str = "runs") -> EnsembleResult:
    """:func:`~urban_sim.runs.ensemble.run_ensemble` on an executor made from CLI-style options.

    Parameters
    ----------
    specs : list of RunSpec
    store_dir : path, optional
        Results store (``runs/<run_id>.parquet``, ``failed/<run_id>.json``): resumable. None:
        results are kept in memory only.
    engine, workers, scheduler
        See :func:`urban_sim.runs.executors.make_executor`; one run starts no pool.
    """
    single = len(specs) == 1 and not scheduler
    store = ResultsStore(store_dir) if store_dir is not None else None
    with make_executor("sequential" if single else engine, workers=workers,
                       scheduler=scheduler) as ex:
        return run_ensemble(specs, store, ex, progress=progress, desc=desc)


def run_scenario(scenario: Scenario, *, n_replicates: int = 1, engine: str = "processes",
                 workers: int | None = 1, scheduler: str | None = None,
                 store_dir: str | Path | None = None, progress: bool = False) -> EnsembleResult:
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

    Returns
    -------
    EnsembleResult
        ``timeseries`` in long format (:data:`TS_COLUMNS`) in replicate order, and ``targets``
        (see :func:`target_table`).
    """
    specs = plan_runs([scenario], n_replicates, scenario.seed)
    with tempfile.TemporaryDirectory() as tmp:
        res = run_many(specs, store_dir=store_dir or tmp, engine=engine, workers=workers,
                       scheduler=scheduler, progress=progress)
    ts = res.timeseries[TS_COLUMNS] if len(res.timeseries) else pd.DataFrame(columns=TS_COLUMNS)
    targets = (target_table(scenario_targets(scenario, load_county_cached(scenario.data_dir)), ts)
               if len(ts) else pd.DataFrame())
    return dataclasses.replace(res, timeseries=ts, targets=targets)


__all__ = ["EnsembleResult", "TS_COLUMNS", "run_many", "run_scenario", "simulate", "target_table"]
