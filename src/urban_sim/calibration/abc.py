"""Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC), in numpy.

pyabc was not installed: on this machine ``pip install pyabc`` pulls in about 30 further
packages (IPython, Jupyter kernel, Redis client, SQLAlchemy, scikit-learn), so this is a
small, documented ABC-SMC instead (Beaumont et al. 2009; Toni et al. 2009), with an adaptive
tolerance schedule (Del Moral et al. 2012) and the same distance as the method of simulated
moments.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.errors import CalibrationError
from urban_sim.runs.executors import Failed, make_executor
from urban_sim.runs.seeds import replicate_seeds

from .calibrator import on_bound
from .objective import Objective, split_bounds


class ABCCalibrator:
    """ABC-SMC posterior of the parameters under uniform priors given by the bounds.

    Algorithm (population size N, generations T, quantile q):

    1. Generation 0: draw N parameter vectors from the prior U(low, high), simulate, keep all
       (ε₀ = ∞), weights 1/N.
    2. Generation t ≥ 1: ε_t = q-quantile of the distances of generation t−1. Propose
       θ* = θ_j + N(0, Σ) with j drawn by weight and Σ = 2 × the weighted covariance of
       generation t−1 (Beaumont et al. 2009); proposals outside the prior are discarded
       without a run; simulate the rest in parallel batches; accept θ* if D(θ*) ≤ ε_t, until N
       are accepted. Weight w_i ∝ 1 / Σ_j w_j φ_Σ(θ_i − θ_j) (uniform prior), normalised.
    3. Stop after T generations or when ``max_evaluations`` runs are spent (the last complete
       population is returned).

    D is the method-of-simulated-moments distance with common random numbers (see
    :class:`~urban_sim.calibration.objective.Objective`), so a particle is accepted when its
    standardised squared errors sum to at most ε.

    Parameters
    ----------
    scenario : Scenario
    bounds : dict[str, tuple[float, float]]
        Uniform prior of each parameter; equal bounds fix it.
    replicates : int
    population_size : int
        N, ≥ 2.
    generations : int
        T, ≥ 1.
    quantile : float
        q in (0, 1).
    max_evaluations : int
        Budget of distance evaluations (each runs ``replicates`` simulations).
    seed : int
        Seed of the sampler (the simulations use the scenario's seed).
    workers : int
    progress : bool

    Attributes
    ----------
    names_, search_bounds_, fixed_ : as in :class:`~.calibrator.MSMCalibrator`
    posterior_ : pandas.DataFrame
        Final population: free parameters, ``distance``, ``weight`` (sums to 1).
    epsilons_ : list of float
        Tolerance of each generation (ε₀ = inf).
    params_ : dict[str, float]
        Weighted posterior mean (plus fixed parameters).
    loss_ : float
        D at ``params_``.
    history_ : pandas.DataFrame
        Every evaluation: ``generation``, parameters, ``loss``, ``accepted``.
    on_bound_ : dict[str, bool]
        Posterior mean within 1 % of the range from a bound.

    References
    ----------
    Beaumont, Cornuet, Marin & Robert (2009), Biometrika 96(4), 983-990.
    Toni, Welch, Strelkowa, Ipsen & Stumpf (2009), J. R. Soc. Interface 6, 187-202.
    Del Moral, Doucet & Jasra (2012), Stat. Comput. 22, 1009-1020.
    """

    def __init__(self, scenario: Scenario, bounds: dict[str, tuple[float, float]], *,
                 replicates: int = 1, population_size: int = 50, generations: int = 4,
                 quantile: float = 0.5, max_evaluations: int = 5000, seed: int = 1,
                 workers: int = 1, progress: bool = False) -> None:
        self.scenario = scenario
        self.bounds = bounds
        self.replicates = replicates
        self.population_size = population_size
        self.generations = generations
        self.quantile = quantile
        self.max_evaluations = max_evaluations
        self.seed = seed
        self.workers = workers
        self.progress = progress

    def fit(self, observations: pd.DataFrame) -> "ABCCalibrator":
        """Sample the ABC posterior given ``observations``; returns ``self``.

        Raises
        ------
        CalibrationError
            No free parameter, no observation, a failed model run, or a budget too small for
            the first generation.
        """
        self.names_, self.search_bounds_, self.fixed_ = split_bounds(self.bounds)
        if not self.names_:
            raise CalibrationError("all parameters are fixed by equal bounds: nothing to fit")
        if observations.empty:
            raise CalibrationError("no observations to fit")
        n = self.population_size
        if self.max_evaluations < n:
            raise CalibrationError(f"abc.max_evaluations ({self.max_evaluations}) is below "
                                   f"abc.population_size ({n})")
        rng = np.random.default_rng(self.seed)
        lo, hi = np.array(self.search_bounds_).T
        seeds = tuple(replicate_seeds(self.scenario.seed, self.replicates))
        objective = Objective(self.scenario, tuple(self.names_), self.fixed_, observations, seeds)
        rows: list[dict] = []

        with make_executor("processes", workers=self.workers) as ex:
            def evaluate(thetas: np.ndarray, gen: int, eps: float) -> np.ndarray:
                out = ex.map(objective, list(thetas))
                for th, d in zip(thetas, out, strict=True):
                    if isinstance(d, Failed):
                        raise CalibrationError(f"model run failed at "
                                               f"{dict(zip(self.names_, th.round(4)))}: {d.error}")
                    rows.append({"generation": gen, **dict(zip(self.names_, th)),
                                 "loss": float(d), "accepted": bool(d <= eps)})
                return np.asarray(out, float)

            theta = lo + (hi - lo) * rng.random((n, len(lo)))
            dist = evaluate(theta, 0, np.inf)
            weights = np.full(n, 1.0 / n)
            epsilons = [np.inf]
            self._report(0, np.inf, dist)
            for gen in range(1, self.generations):
                eps = float(np.quantile(dist, self.quantile))
                cov = 2 * np.atleast_2d(np.cov(theta.T, aweights=weights))
                cov += 1e-12 * np.eye(len(lo)) * (hi - lo) ** 2
                acc_t, acc_d = [], []
                while len(acc_t) < n and len(rows) < self.max_evaluations:
                    batch = min(n, self.max_evaluations - len(rows))
                    parents = rng.choice(n, size=batch, p=weights)
                    prop = theta[parents] + rng.multivariate_normal(np.zeros(len(lo)), cov, batch)
                    prop = prop[np.all((prop >= lo) & (prop <= hi), axis=1)]
                    if len(prop) == 0:
                        continue
                    d = evaluate(prop, gen, eps)
                    keep = d <= eps
                    acc_t.extend(prop[keep])
                    acc_d.extend(d[keep])
                if len(acc_t) < n:  # budget spent: keep the last complete population
                    break
                new_t, new_d = np.array(acc_t[:n]), np.array(acc_d[:n])
                inv = np.linalg.inv(cov)
                diff = new_t[:, None, :] - theta[None, :, :]
                kern = np.exp(-0.5 * np.einsum("ijk,kl,ijl->ij", diff, inv, diff))
                w = 1.0 / (kern @ weights)
                theta, dist, weights = new_t, new_d, w / w.sum()
                epsilons.append(eps)
                self._report(gen, eps, dist)
            mean = weights @ theta
            p = objective.parameters(mean)
            self.params_ = {n: p[n] for n in self.bounds}
            final = ex.map(objective, [mean])[0]
            if isinstance(final, Failed):
                raise CalibrationError(f"model run failed at the posterior mean: {final.error}")
        self.loss_ = float(final)
        self.posterior_ = pd.DataFrame(theta, columns=self.names_).assign(distance=dist,
                                                                          weight=weights)
        self.epsilons_ = epsilons
        self.history_ = pd.DataFrame(rows)
        self.n_evaluations_ = len(rows) + 1
        self.on_bound_ = on_bound(self.params_, self.bounds)
        return self

    def _report(self, gen: int, eps: float, dist: np.ndarray) -> None:
        if self.progress:
            print(f"  ABC generation {gen}: epsilon {eps:.4g}, median distance "
                  f"{np.median(dist):.4g}", file=sys.stderr, flush=True)
