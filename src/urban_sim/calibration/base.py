"""The base of every calibrator: settings, the runs of a batch of parameter vectors, results.

Calibrators follow the scikit-learn estimator contract: the constructor only stores its
settings (no work, no validation beyond storing), :meth:`Calibrator.fit` does the work and
returns ``self``, and every fitted attribute ends with an underscore. Every model run goes
through the one ensemble runner (:func:`urban_sim.runs.ensemble.run_ensemble`): runs are
stored under ``store_dir`` by run id as soon as they end, so a killed calibration started again
with the same settings replays its (seeded, deterministic) search and reruns only what was not
finished.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.errors import CalibrationError
from urban_sim.runs.ensemble import run_ensemble
from urban_sim.runs.executors import make_executor
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.runs.store import ResultsStore

from .experiment import split_bounds
from .objective import Objective


def bound_note(value: float, low: float, high: float, *, rel_tol: float = 0.05) -> str | None:
    """``"at or near upper bound 4.6"`` when ``value`` lies within ``rel_tol`` of the range
    ``high - low`` from a bound (None otherwise, and for a fixed parameter)."""
    if low == high:
        return None
    tol = rel_tol * (high - low)
    if high - value <= tol:
        return f"at or near upper bound {high:g}"
    if value - low <= tol:
        return f"at or near lower bound {low:g}"
    return None


def on_bound(params: dict[str, float], bounds: dict[str, tuple[float, float]], *,
             rel_tol: float = 0.05) -> dict[str, bool]:
    """Whether each free parameter ended within ``rel_tol`` (5 %) of its range from a bound.

    A parameter on a bound usually means the bound, not the data, decided its value: widen the
    bound or question the model. See :func:`bound_note` for the wording.
    """
    return {name: bound_note(params[name], low, high, rel_tol=rel_tol) is not None
            for name, (low, high) in bounds.items()}


class Calibrator:
    """Base class: stored settings, batched evaluation through the ensemble runner.

    Parameters
    ----------
    scenario : Scenario
        Base scenario with start year, end year, scale and master seed set.
    bounds : dict[str, tuple[float, float]]
        Parameter name → (low, high): the search box (MSM) or uniform prior (ABC). Equal bounds
        fix the parameter; it is set in every run but not searched.
    replicates : int
        Simulations per parameter vector (common random numbers: the same seeds for every one).
    seed : int
        Seed of the search itself (the simulations use the scenario's seed).
    workers : int
        Worker processes (1 = in this process).
    store_dir : path, optional
        Where finished runs are kept (resume); default a temporary folder.
    progress : bool
        Print progress on stderr.

    Attributes
    ----------
    names_ : list of str
        Free (searched) parameters.
    search_bounds_ : list of (float, float)
    fixed_ : dict[str, float]
    params_ : dict[str, float]
        Calibrated values of all parameters in ``bounds``.
    loss_ : float
        D at ``params_``.
    history_ : pandas.DataFrame
        Every evaluation: ``generation``, the free parameters, ``loss`` (ABC also ``accepted``).
    n_evaluations_ : int
    n_resumed_ : int
        Runs found finished in ``store_dir`` (not run again).
    on_bound_ : dict[str, bool]
    """

    def __init__(self, scenario: Scenario, bounds: dict[str, tuple[float, float]], *,
                 replicates: int = 1, seed: int = 1, workers: int = 1,
                 store_dir: str | Path | None = None, progress: bool = False) -> None:
        self.scenario = scenario
        self.bounds = bounds
        self.replicates = replicates
        self.seed = seed
        self.workers = workers
        self.store_dir = store_dir
        self.progress = progress

    # ---------------------------------------------------------------- for subclasses
    def _begin(self, observations: pd.DataFrame) -> Objective:
        """Check the inputs, set ``names_``, ``search_bounds_``, ``fixed_``; the objective."""
        self.names_, self.search_bounds_, self.fixed_ = split_bounds(self.bounds)
        if not self.names_:
            raise CalibrationError("all parameters are fixed by equal bounds: nothing to fit")
        if observations.empty:
            raise CalibrationError("no observations to fit")
        self._rows: list[dict] = []
        self.n_resumed_ = 0
        seeds = tuple(replicate_seeds(self.scenario.seed, self.replicates))
        self._objective = Objective(self.scenario, tuple(self.names_), self.fixed_,
                                    observations, seeds)
        return self._objective

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """Executor and results store for the duration of a fit."""
        with contextlib.ExitStack() as stack:
            root = self.store_dir or stack.enter_context(tempfile.TemporaryDirectory())
            self._store = ResultsStore(root)
            self._executor = stack.enter_context(make_executor("processes",
                                                               workers=self.workers))
            yield

    def _evaluate(self, thetas, **record) -> np.ndarray:
        """D of each parameter vector in ``thetas`` (shape (n, len(names_))), run as one batch.

        Every evaluation is appended to the history with the ``record`` fields; ``accepted`` is
        computed when ``record`` has ``epsilon``.
        """
        thetas = np.atleast_2d(np.asarray(thetas, float))
        obj = self._objective
        specs = [obj.specs(x) for x in thetas]
        res = run_ensemble([s for group in specs for s in group], self._store, self._executor)
        self.n_resumed_ += res.n_skipped
        if res.n_failed or res.failures:
            f = res.failures[0]
            raise CalibrationError(f"model run failed ({f.get('error')}); the parameters are in "
                                   f"{self._store.root / 'failed'}")
        by_id = dict(tuple(res.timeseries.groupby("run_id", sort=False)))
        out = np.array([obj.distance(pd.concat([by_id[s.run_id] for s in group]))
                        for group in specs])
        eps = record.pop("epsilon", None)
        for x, d in zip(thetas, out, strict=True):
            row = {**record, **dict(zip(self.names_, x)), "loss": float(d)}
            if eps is not None:
                row["accepted"] = bool(d <= eps)
            self._rows.append(row)
        if self.progress:
            print(f"  {record}: {len(thetas)} evaluations, best loss {out.min():.4g} "
                  f"({res.n_skipped} runs resumed)", file=sys.stderr, flush=True)
        return out

    def _end(self, x) -> None:
        """Set ``params_``, ``history_``, ``n_evaluations_`` and ``on_bound_`` for vector ``x``."""
        p = self._objective.parameters(x)
        self.params_ = {n: p[n] for n in self.bounds}
        self.history_ = pd.DataFrame(self._rows)
        self.n_evaluations_ = len(self._rows)
        self.on_bound_ = on_bound(self.params_, self.bounds)

    def fit(self, observations: pd.DataFrame) -> Calibrator:  # pragma: no cover - abstract
        """Estimate the parameters from ``observations``; returns ``self``."""
        raise NotImplementedError
