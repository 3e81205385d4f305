"""Method of simulated moments with common random numbers, minimised by differential evolution.

The calibrator follows the scikit-learn estimator contract: the constructor only stores its
settings, :meth:`MSMCalibrator.fit` does the work and returns ``self``, and fitted state ends
with an underscore.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution

from urban_sim.config.schema import Scenario
from urban_sim.errors import CalibrationError
from urban_sim.runs.executors import Failed, make_executor
from urban_sim.runs.seeds import replicate_seeds

from .objective import Objective, split_bounds


class _Mapper:
    """Map-like callable for scipy's ``workers=``: runs a generation on a project executor,
    records every evaluation, and turns a failed run into a :class:`CalibrationError`."""

    def __init__(self, executor, names, progress: bool) -> None:
        self.executor, self.names, self.progress = executor, names, progress
        self.generation, self.rows = 0, []

    def __call__(self, fn, items) -> list[float]:
        items = [np.asarray(x, float) for x in items]
        out = self.executor.map(fn, items)
        for x, loss in zip(items, out, strict=True):
            if isinstance(loss, Failed):
                raise CalibrationError(
                    f"model run failed at {dict(zip(self.names, x.round(4)))}: {loss.error}")
            self.rows.append({"generation": self.generation, **dict(zip(self.names, x)),
                              "loss": float(loss)})
        if self.progress:
            best = min(r["loss"] for r in self.rows)
            print(f"  generation {self.generation}: {len(items)} evaluations, best loss "
                  f"{best:.4g}", file=sys.stderr, flush=True)
        self.generation += 1
        return out


def on_bound(params: dict[str, float], bounds: dict[str, tuple[float, float]], *,
             rel_tol: float = 0.01) -> dict[str, bool]:
    """Whether each free parameter ended within ``rel_tol`` of its range from a bound.

    A parameter on a bound usually means the bound, not the data, decided its value: widen the
    bound or question the model.
    """
    out = {}
    for name, (low, high) in bounds.items():
        if low == high:
            out[name] = False
            continue
        tol = rel_tol * (high - low)
        out[name] = bool(params[name] - low <= tol or high - params[name] <= tol)
    return out


class MSMCalibrator:
    """Method-of-simulated-moments calibrator (differential evolution, common random numbers).

    Minimises the distance D(θ) = Σ_i ((m̄_i(θ) − y_i) / sd_i)² (or w_i · relative error² for
    weighted rows), where m̄_i(θ) is the mean of ``replicates`` simulations run with the same
    seeds for every θ (common random numbers, so D is deterministic in θ), with
    :func:`scipy.optimize.differential_evolution` (``updating='deferred'``; each generation is
    evaluated in parallel on the project's executors).

    Parameters
    ----------
    scenario : Scenario
        Base scenario with start year, end year, scale and master seed set.
    bounds : dict[str, tuple[float, float]]
        Parameter name → (low, high). Equal bounds fix the parameter; it is removed from the
        search space (the optimiser never sees it).
    replicates : int
        Simulations per evaluation, ≥ 1.
    maxiter, popsize, tol, mutation, recombination, polish, seed :
        Passed to :func:`scipy.optimize.differential_evolution` (``seed`` as its ``rng``).
    workers : int
        Worker processes (1 = in this process).
    progress : bool
        Print the best loss after every generation on stderr.

    Attributes
    ----------
    names_ : list of str
        Free (searched) parameters.
    search_bounds_ : list of (float, float)
        Bounds given to the optimiser, one per free parameter.
    fixed_ : dict[str, float]
        Parameters fixed by equal bounds.
    params_ : dict[str, float]
        Calibrated values of all parameters in ``bounds``.
    loss_ : float
        D at ``params_``.
    history_ : pandas.DataFrame
        Every evaluation: ``generation``, the free parameters, ``loss``.
    on_bound_ : dict[str, bool]
        Parameters that ended on (within 1 % of the range from) a bound.
    n_evaluations_ : int
    result_ : scipy.optimize.OptimizeResult

    References
    ----------
    McFadden (1989), Econometrica 57(5); Grazzini & Richiardi (2015), J. Econ. Dyn. Control 51;
    Storn & Price (1997), J. Global Optim. 11.
    """

    def __init__(self, scenario: Scenario, bounds: dict[str, tuple[float, float]], *,
                 replicates: int = 3, maxiter: int = 15, popsize: int = 10, tol: float = 0.01,
                 mutation=(0.5, 1.0), recombination: float = 0.7, polish: bool = False,
                 seed: int = 1, workers: int = 1, progress: bool = False) -> None:
        self.scenario = scenario
        self.bounds = bounds
        self.replicates = replicates
        self.maxiter = maxiter
        self.popsize = popsize
        self.tol = tol
        self.mutation = mutation
        self.recombination = recombination
        self.polish = polish
        self.seed = seed
        self.workers = workers
        self.progress = progress

    def make_objective(self, observations: pd.DataFrame) -> Objective:
        """The objective for ``observations`` (free parameters in ``names_`` order)."""
        names, _, fixed = split_bounds(self.bounds)
        seeds = tuple(replicate_seeds(self.scenario.seed, self.replicates))
        return Objective(self.scenario, tuple(names), fixed, observations, seeds)

    def fit(self, observations: pd.DataFrame) -> "MSMCalibrator":
        """Estimate the parameters from ``observations`` (every row is used).

        Parameters
        ----------
        observations : pandas.DataFrame
            As returned by :func:`~urban_sim.calibration.observations.read_observations`,
            holdout rows already removed.

        Returns
        -------
        self

        Raises
        ------
        CalibrationError
            No free parameter, no observation, or a model run failed.
        """
        self.names_, self.search_bounds_, self.fixed_ = split_bounds(self.bounds)
        if not self.names_:
            raise CalibrationError("all parameters are fixed by equal bounds: nothing to fit")
        if observations.empty:
            raise CalibrationError("no observations to fit")
        objective = self.make_objective(observations)
        with make_executor("processes", workers=self.workers) as ex:
            mapper = _Mapper(ex, self.names_, self.progress)
            self.result_ = differential_evolution(
                objective, self.search_bounds_, maxiter=self.maxiter, popsize=self.popsize,
                tol=self.tol, mutation=self.mutation, recombination=self.recombination,
                polish=self.polish, rng=self.seed, workers=mapper, updating="deferred")
        p = objective.parameters(self.result_.x)
        self.params_ = {n: p[n] for n in self.bounds}
        self.loss_ = float(self.result_.fun)
        self.history_ = pd.DataFrame(mapper.rows)
        self.n_evaluations_ = len(mapper.rows)
        self.on_bound_ = on_bound(self.params_, self.bounds)
        return self
