"""Replicated runs of one or more scenarios: run ids, common random numbers, resume.

Replicate ``k`` of every scenario uses the same seed (spawned from one master seed), so
differences between scenarios are paired (common random numbers). Each run has a run id, a hash
of the resolved scenario, the seed and the code version; results are stored per run id as
soon as the run ends and are read back in (scenario, replicate) order, never in completion order,
so the outcome is identical whatever the engine and the number of workers.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from urban_sim.config.loader import dump_scenario
from urban_sim.config.schema import Scenario
from urban_sim.data.tables import data_fingerprint
from urban_sim.runs.executors import Executor, Failed
from urban_sim.runs.single import simulate
from urban_sim.runs.seeds import describe_seed, replicate_seeds
from urban_sim.runs.store import ResultsStore


def code_version() -> str:
    """Package version (part of every run id)."""
    from urban_sim import __version__

    return __version__


def run_id(scenario: Scenario, seed: np.random.SeedSequence) -> str:
    """Hex run id: sha256 of resolved scenario, contents of its data folder, seed (entropy,
    spawn key) and code version."""
    h = hashlib.sha256()
    h.update(dump_scenario(scenario).encode("utf-8"))
    h.update(data_fingerprint(scenario.data_dir).encode())
    h.update(repr((seed.entropy, tuple(seed.spawn_key))).encode())
    h.update(code_version().encode())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class RunSpec:
    """One run of an ensemble."""

    run_id: str
    scenario: Scenario
    replicate: int
    seed: np.random.SeedSequence


def plan_runs(scenarios: list[Scenario], n_replicates: int, master_seed: int) -> list[RunSpec]:
    """Every (scenario, replicate) run, replicate seeds shared by all scenarios."""
    seeds = replicate_seeds(master_seed, n_replicates)
    return [RunSpec(run_id(sc, s), sc, k, s) for sc in scenarios for k, s in enumerate(seeds)]


def _execute(spec: RunSpec) -> pd.DataFrame:
    frame = simulate(spec.scenario, spec.seed, spec.replicate)
    frame["run_id"] = spec.run_id
    return frame


@dataclass
class EnsembleResult:
    """Outcome of :func:`run_ensemble`.

    Attributes
    ----------
    timeseries : pandas.DataFrame
        All finished runs, long format plus ``run_id``, in (scenario, replicate) order.
    specs : list of RunSpec
    n_done, n_failed, n_skipped : int
        Runs finished, failed, and found already finished (resume) in this call.
    failures : list of dict
        Failure records (scenario, replicate, seed, run id, error, traceback).
    wall_seconds : float
    """

    timeseries: pd.DataFrame
    specs: list
    n_done: int
    n_failed: int
    n_skipped: int
    failures: list
    wall_seconds: float

    @property
    def seeds(self) -> list[dict]:
        """Seed records of replicates 0..n-1 (shared by every scenario)."""
        seen: dict[int, dict] = {}
        for s in self.specs:
            seen.setdefault(s.replicate, describe_seed(s.seed))
        return [seen[k] for k in sorted(seen)]


def run_ensemble(specs: list[RunSpec], store: ResultsStore, executor: Executor, *,
                 progress: bool = False) -> EnsembleResult:
    """Run every spec not already in ``store``; store each result as soon as it ends.

    A run that raises is recorded as failed (with parameters and traceback) and does not stop
    the others.
    """
    start = time.perf_counter()
    done = store.done()
    todo = [s for s in specs if s.run_id not in done]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), initial=len(specs) - len(todo), unit="run", desc="runs")
    n_failed = 0
    for i, outcome in executor.imap(_execute, todo):
        spec = todo[i]
        if isinstance(outcome, Failed):
            n_failed += 1
            store.save_failure(spec.run_id, {
                "run_id": spec.run_id, "scenario": spec.scenario.name, "replicate": spec.replicate,
                "seed": describe_seed(spec.seed), "error": outcome.error,
                "traceback": outcome.traceback,
            })
        else:
            store.save(spec.run_id, outcome)
        if bar:
            bar.update()
    if bar:
        bar.close()
    ts = store.load([s.run_id for s in specs])
    return EnsembleResult(ts, specs, len(todo) - n_failed, n_failed, len(specs) - len(todo),
                          store.failures(), time.perf_counter() - start)
