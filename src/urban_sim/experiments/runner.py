"""Running a scenario: one replicate, or several on a pool of workers."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.data.tables import CountyData, load_county
from urban_sim.experiments.seeds import replicate_seeds
from urban_sim.model.county import CountyModel
from urban_sim.targets import attainment, load_targets


def simulate(scenario: Scenario, seed: np.random.SeedSequence, replicate: int = 0,
             data: CountyData | None = None) -> pd.DataFrame:
    """Run one replicate of a scenario and return its long-format timeseries.

    The model is released from Mesa's registry afterwards, so a worker's memory does not grow
    with the number of runs it has done.
    """
    model = CountyModel(scenario, data=data, seed=seed)
    try:
        model.run()
        return model.timeseries(scenario.name, replicate)
    finally:
        model.close()


def _simulate_args(args: tuple) -> pd.DataFrame:
    return simulate(*args)


@dataclass
class RunSet:
    """Result of :func:`run_scenario`.

    Attributes
    ----------
    timeseries : pandas.DataFrame
        All replicates, long format, sorted by replicate, year, place, indicator.
    targets : pandas.DataFrame
        Target table: ``indicator, year, operator, target, target_high, task_area, value, met``
        for replicate 0, plus ``mean, p05, p95, p_met`` over replicates.
    seeds : list of numpy.random.SeedSequence
    wall_seconds : float
    """

    timeseries: pd.DataFrame
    targets: pd.DataFrame
    seeds: list = field(default_factory=list)
    wall_seconds: float = 0.0


def target_table(scenario_targets, timeseries: pd.DataFrame) -> pd.DataFrame:
    """Target attainment for replicate 0 and across replicates (see :class:`RunSet`)."""
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
        "p_met": g["met"].apply(lambda s: s.astype("float").mean()),
    }).reset_index()
    return first.merge(stats, on=["indicator", "year"], how="left")


def run_scenario(scenario: Scenario, *, n_replicates: int = 1, workers: int = 1,
                 data: CountyData | None = None, progress: bool = False) -> RunSet:
    """Run ``n_replicates`` replicates of a scenario.

    Parameters
    ----------
    scenario : Scenario
    n_replicates : int
        ≥ 1. Seeds are spawned from ``scenario.seed`` (:func:`replicate_seeds`).
    workers : int
        Processes to use (1 = in this process). Results do not depend on it.
    data : CountyData, optional
    progress : bool
        Show a progress bar on stderr.
    """
    start = time.perf_counter()
    seeds = replicate_seeds(scenario.seed, n_replicates)
    args = [(scenario, s, k, data) for k, s in enumerate(seeds)]
    bar = None
    if progress and n_replicates > 1:
        from tqdm import tqdm

        bar = tqdm(total=n_replicates, desc=scenario.name, unit="run")
    frames = []
    if workers <= 1 or n_replicates == 1:
        for a in args:
            frames.append(_simulate_args(a))
            if bar:
                bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for frame in pool.map(_simulate_args, args):
                frames.append(frame)
                if bar:
                    bar.update()
    if bar:
        bar.close()
    ts = pd.concat(frames, ignore_index=True)
    targets = target_table(load_targets((data or load_county(scenario.data_dir)).plan_targets), ts)
    return RunSet(ts, targets, seeds, time.perf_counter() - start)
