"""Method of simulated moments with common random numbers, minimised by differential evolution."""

from __future__ import annotations

import pandas as pd
from scipy.optimize import differential_evolution

from urban_sim.config.schema import Scenario

from .base import Calibrator


class MSMCalibrator(Calibrator):
    """Method-of-simulated-moments calibrator (differential evolution, common random numbers).

    Minimises the distance D(θ) of :class:`~urban_sim.calibration.objective.Objective` with
    :func:`scipy.optimize.differential_evolution` (``updating='deferred'``: each generation is
    one batch for the ensemble runner, run in parallel and resumable).

    Parameters
    ----------
    scenario, bounds, replicates, seed, workers, store_dir, progress
        See :class:`~urban_sim.calibration.base.Calibrator` (``seed`` is the optimiser's ``rng``).
    maxiter, popsize, tol, mutation, recombination, polish
        Passed to :func:`scipy.optimize.differential_evolution`.

    Attributes
    ----------
    names_, search_bounds_, fixed_, params_, loss_, history_, n_evaluations_, n_resumed_, on_bound_
        See :class:`~urban_sim.calibration.base.Calibrator`.
    result_ : scipy.optimize.OptimizeResult

    References
    ----------
    McFadden (1989), Econometrica 57(5); Grazzini & Richiardi (2015), J. Econ. Dyn. Control 51;
    Storn & Price (1997), J. Global Optim. 11.
    """

    def __init__(self, scenario: Scenario, bounds: dict[str, tuple[float, float]], *,
                 replicates: int = 3, maxiter: int = 15, popsize: int = 10, tol: float = 0.01,
                 mutation=(0.5, 1.0), recombination: float = 0.7, polish: bool = False,
                 seed: int = 1, workers: int = 1, store_dir=None, progress: bool = False) -> None:
        super().__init__(scenario, bounds, replicates=replicates, seed=seed, workers=workers,
                         store_dir=store_dir, progress=progress)
        self.maxiter = maxiter
        self.popsize = popsize
        self.tol = tol
        self.mutation = mutation
        self.recombination = recombination
        self.polish = polish

    def fit(self, observations: pd.DataFrame) -> MSMCalibrator:
        """Estimate the parameters from ``observations`` (every row is used); returns ``self``.

        Raises
        ------
        CalibrationError
            No free parameter, no observation, or a model run failed.
        """
        objective = self._begin(observations)
        generation = iter(range(10**9))

        def batch(_fn, items):
            return list(self._evaluate(list(items), generation=next(generation)))

        with self._session():
            self.result_ = differential_evolution(
                objective, self.search_bounds_, maxiter=self.maxiter, popsize=self.popsize,
                tol=self.tol, mutation=self.mutation, recombination=self.recombination,
                polish=self.polish, rng=self.seed, workers=batch, updating="deferred")
        self.loss_ = float(self.result_.fun)
        self._end(self.result_.x)
        return self
