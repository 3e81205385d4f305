"""The one ensemble runner: every workflow (run, compare, sensitivity, calibration) submits here.

A workflow describes its runs as :class:`RunSpec` objects (a resolved scenario, a replicate
seed, optionally a ``reduce`` function applied to each run's timeseries in the worker) and hands
them to :func:`run_ensemble` with a store and an executor. The runner

- gives every run one id (:func:`run_id`: resolved scenario, data files, seed, code version and
  the reduction), the only recipe in the package;
- skips runs whose result is already in the store (resume after Ctrl-C, a killed process or a
  lost worker: the same call with the same specs redoes nothing that finished);
- stores each result as soon as its run ends (atomically, one file per run id);
- records a run that raises as one failure record (:data:`FAILURE_KEYS`) and goes on with the
  others;
- returns one result type, :class:`EnsembleResult`, whose frames are in spec order, never in
  completion order, so the outcome is identical on any engine and number of workers.

Replicate ``k`` of every scenario of :func:`plan_runs` uses the same seed (spawned from one
master seed), so differences between scenarios are paired (common random numbers).

Examples
--------
Any list of (scenario, seed) runs, e.g. the points of a sensitivity design::

    from urban_sim.runs import ResultsStore, RunSpec, make_executor, replicate_seeds, run_ensemble
    seeds = replicate_seeds(exp.seed, n_replicates)
    specs = [RunSpec.make(sc, seeds[k], k, reduce=my_outputs, meta={"point": i})
             for i, sc in enumerate(point_scenarios) for k in range(n_replicates)]
    with make_executor("processes", workers=2) as ex:
        res = run_ensemble(specs, ResultsStore(out_dir), ex, progress=True)
    res.raise_if_failed()              # or inspect res.failures
    table = res.frames                 # reduced rows, spec order, with run_id and meta columns
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.data.tables import data_fingerprint
from urban_sim.errors import ExperimentError, WorkerDied
from urban_sim.runs.executors import Executor, Failed, worker_died_message
from urban_sim.runs.progress import progress as progress_bar
from urban_sim.runs.seeds import describe_seed, replicate_seeds
from urban_sim.runs.single import simulate
from urban_sim.runs.store import MemoryStore, ResultsStore

Reduce = Callable[[pd.DataFrame], "pd.DataFrame | dict[str, float]"]
"""Turns one run's long timeseries into what is stored: a frame, or a dict (one row)."""

FAILURE_KEYS = ("run_id", "scenario", "replicate", "seed", "meta", "error", "traceback")
"""Keys of a failure record (stored as ``failed/<run_id>.json`` and in ``.failures``)."""


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version and a fingerprint of the installed code (part of every run id).

    ``"0.3.0+1a2b3c4d5e6f"``: an edit to any module, committed or not and with or without a
    version bump, gives new run ids, so resume never returns results of other code. Computed
    once per process (the code a process runs does not change under it).
    """
    from urban_sim import __version__

    return f"{__version__}+{code_fingerprint()[:12]}"


def code_fingerprint(root: str | Path | None = None) -> str:
    """sha256 (hex) of every ``.py`` file below ``root`` (default: the installed package),
    by relative path and content."""
    root = Path(root) if root else Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _reduce_name(reduce: Reduce | None) -> str:
    if reduce is None:
        return ""
    fn = getattr(reduce, "func", reduce)  # functools.partial: name + its arguments
    name = f"{fn.__module__}.{fn.__qualname__}"
    if fn is not reduce:
        name += repr((reduce.args, sorted(reduce.keywords.items())))
    return name


def run_id(scenario: Scenario, seed: np.random.SeedSequence, reduce: Reduce | None = None) -> str:
    """Hex run id (20 characters), the one recipe for every workflow.

    sha256 of the resolved scenario (JSON, keys sorted), the contents of its data folder, the
    seed (entropy and spawn key), the code version and the reduction (module, name and, for a
    ``functools.partial``, its arguments). Equal ids mean equal results.
    """
    raw = scenario.model_dump(mode="json")
    raw["extends"] = None
    h = hashlib.sha256()
    h.update(json.dumps(raw, sort_keys=True).encode("utf-8"))
    h.update(data_fingerprint(scenario.data_dir).encode())
    h.update(repr((seed.entropy, tuple(seed.spawn_key))).encode())
    h.update(code_version().encode())
    h.update(_reduce_name(reduce).encode())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class RunSpec:
    """One run: scenario, replicate index and seed; what to keep of it; its id.

    Build with :meth:`make` (computes the id). ``reduce`` must be picklable (a top-level
    function or a ``functools.partial`` of one) to run on worker processes or Dask. ``meta``
    (JSON-able, e.g. a design point and its factor values) is copied into the result rows and
    the failure record; it is not part of the id.
    """

    run_id: str
    scenario: Scenario
    replicate: int
    seed: np.random.SeedSequence
    reduce: Reduce | None = None
    meta: dict = field(default_factory=dict)

    @classmethod
    def make(cls, scenario: Scenario, seed: np.random.SeedSequence, replicate: int = 0, *,
             reduce: Reduce | None = None, meta: dict | None = None) -> "RunSpec":
        return cls(run_id(scenario, seed, reduce), scenario, replicate, seed, reduce, meta or {})


def plan_runs(scenarios: list[Scenario], n_replicates: int, master_seed: int, *,
              reduce: Reduce | None = None) -> list[RunSpec]:
    """Every (scenario, replicate) run, replicate seeds shared by all scenarios (CRN)."""
    seeds = replicate_seeds(master_seed, n_replicates)
    return [RunSpec.make(sc, s, k, reduce=reduce) for sc in scenarios for k, s in enumerate(seeds)]


def execute(spec: RunSpec) -> pd.DataFrame:
    """Run one spec (in a worker): simulate, reduce, tag with ``run_id``."""
    frame = simulate(spec.scenario, spec.seed, spec.replicate)
    if spec.reduce is not None:
        out = spec.reduce(frame)
        frame = out if isinstance(out, pd.DataFrame) else pd.DataFrame([out])
    frame["run_id"] = spec.run_id
    return frame


@dataclass
class EnsembleResult:
    """Outcome of :func:`run_ensemble` (and of :func:`urban_sim.runs.run_scenario`).

    Attributes
    ----------
    timeseries : pandas.DataFrame
        Every finished run's stored frame (long timeseries, or the ``reduce`` output) plus
        ``run_id``, concatenated in spec order; runs that failed are missing.
    specs : list of RunSpec
    n_done, n_failed, n_skipped : int
        Runs finished, failed, and found already finished (resume) in this call.
    failures : list of dict
        Failure records (:data:`FAILURE_KEYS`) of specs that have not succeeded.
    wall_seconds : float
    targets : pandas.DataFrame or None
        Target attainment table (filled by ``run_scenario``).
    """

    timeseries: pd.DataFrame
    specs: list
    n_done: int
    n_failed: int
    n_skipped: int
    failures: list
    wall_seconds: float
    targets: pd.DataFrame | None = None

    @property
    def run_ids(self) -> list[str]:
        return [s.run_id for s in self.specs]

    @property
    def seeds(self) -> list[dict]:
        """Seed records of replicates 0..n-1 (shared by every scenario)."""
        seen: dict[int, dict] = {}
        for s in self.specs:
            seen.setdefault(s.replicate, describe_seed(s.seed))
        return [seen[k] for k in sorted(seen)]

    @property
    def frames(self) -> pd.DataFrame:
        """:attr:`timeseries` with each spec's ``replicate`` and ``meta`` as columns."""
        if not len(self.timeseries):
            return self.timeseries
        info = pd.DataFrame([{"run_id": s.run_id, "replicate": s.replicate, **s.meta}
                             for s in self.specs])
        return self.timeseries.drop(columns=["replicate"], errors="ignore").merge(
            info, on="run_id", how="left", sort=False)

    def raise_if_failed(self) -> None:
        """Raise :class:`ExperimentError` naming the count and the first failure, if any."""
        if self.failures:
            f = self.failures[0]
            meta = ", ".join(f"{k}={v}" for k, v in (f.get("meta") or {}).items())
            raise ExperimentError(
                f"{len(self.failures)} of {len(self.specs)} runs failed; first: run {f['run_id']}"
                f" ({f['scenario']}, replicate {f['replicate']}{', ' + meta if meta else ''}): "
                f"{f['error']}")


def run_ensemble(specs: list[RunSpec], store: ResultsStore | MemoryStore | None,
                 executor: Executor, *, progress: bool = False, desc: str = "runs"
                 ) -> EnsembleResult:
    """Run every spec not already in ``store``; store each result as soon as it ends.

    Parameters
    ----------
    specs : list of RunSpec
        Any runs; ids must be unique per distinct run (equal ids are run once).
    store : ResultsStore, MemoryStore or None
        Where results live, keyed by run id; a :class:`ResultsStore` on disk makes the call
        resumable. None: in memory for this call only.
    executor : Executor
        From :func:`urban_sim.runs.executors.make_executor`; results do not depend on it.
    progress : bool
        Progress on stderr, labelled ``desc``: a tqdm bar on a terminal, a few plain lines
        otherwise (:func:`urban_sim.runs.progress.progress`).

    Returns
    -------
    EnsembleResult
        A run that raised is a failure record, never an exception here; call
        :meth:`EnsembleResult.raise_if_failed` to make any failure fatal.
    """
    start = time.perf_counter()
    store = MemoryStore() if store is None else store
    done = store.done()
    todo = list({s.run_id: s for s in specs if s.run_id not in done}.values())
    n_skipped = len({s.run_id for s in specs}) - len(todo)
    bar = progress_bar(len(todo) + n_skipped, initial=n_skipped, desc=desc) if progress and todo else None
    n_failed = 0
    try:
        for i, outcome in executor.imap(execute, todo):
            spec = todo[i]
            if isinstance(outcome, Failed):
                n_failed += 1
                store.save_failure(spec.run_id, {
                    "run_id": spec.run_id, "scenario": spec.scenario.name,
                    "replicate": spec.replicate, "seed": describe_seed(spec.seed),
                    "meta": spec.meta, "error": outcome.error, "traceback": outcome.traceback,
                })
            else:
                store.save(spec.run_id, outcome)
            if bar:
                bar.update()
    except WorkerDied as exc:
        labels = [f"{s.scenario.name} replicate {s.replicate}" for s in todo]
        raise WorkerDied(worker_died_message(exc.lost, labels), exc.lost) from None
    finally:  # ends the bar's line, so a message after Ctrl-C starts on its own line
        if bar:
            bar.close()
    ids = [s.run_id for s in specs]
    failures = [f for f in store.failures() if f["run_id"] in set(ids)]
    return EnsembleResult(store.load(ids), specs, len(todo) - n_failed, n_failed, n_skipped,
                          failures, time.perf_counter() - start)
