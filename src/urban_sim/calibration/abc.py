"""Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC), in numpy.

pyabc was not installed: on this machine ``pip install pyabc`` pulls in about 30 further
packages (IPython, Jupyter kernel, Redis client, SQLAlchemy, scikit-learn), so this is a
small, documented ABC-SMC instead (Beaumont et al. 2009; Toni et al. 2009), with an adaptive
tolerance schedule (Del Moral et al. 2012) and the same distance as the method of simulated
moments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.errors import CalibrationError

from .base import Calibrator


class ABCCalibrator(Calibrator):
    """ABC-SMC posterior of the parameters under uniform priors given by the bounds.

    Algorithm (population size N, generations T, quantile q):

    1. Generation 0: draw N parameter vectors from the prior U(low, high), simulate, keep all
       (ε₀ = ∞), weights 1/N.
    2. Generation t ≥ 1: ε_t = q-quantile of the distances of generation t−1. Propose
       θ* = θ_j + N(0, Σ) with j drawn by weight and Σ = 2 × the weighted covariance of
       generation t−1 (Beaumont et al. 2009); proposals outside the prior are discarded
       without a run (8 × N are drawn per batch so a batch is nearly full); simulate the rest
       in parallel batches; accept θ* if D(θ*) ≤ ε_t, until N
       are accepted. Weight w_i ∝ 1 / Σ_j w_j φ_Σ(θ_i − θ_j) (uniform prior), normalised.
    3. Stop after T generations or when ``max_evaluations`` runs are spent (the last complete
       population is returned).

    D is the method-of-simulated-moments distance with common random numbers (see
    :class:`~urban_sim.calibration.objective.Objective`), so a particle is accepted when its
    standardised squared errors sum to at most ε.

    Parameters
    ----------
    scenario, bounds, replicates, seed, workers, store_dir, progress
        See :class:`~urban_sim.calibration.base.Calibrator`; ``bounds`` are the uniform priors,
        ``seed`` the sampler's.
    population_size : int
        N, ≥ 2.
    generations : int
        T, ≥ 1.
    quantile : float
        q in (0, 1).
    max_evaluations : int
        Budget of distance evaluations (each runs ``replicates`` simulations).

    Attributes
    ----------
    names_, search_bounds_, fixed_, history_, n_evaluations_, n_resumed_
        See :class:`~urban_sim.calibration.base.Calibrator`.
    posterior_ : pandas.DataFrame
        Final population: free parameters, ``distance``, ``weight`` (sums to 1).
    epsilons_ : list of float
        Tolerance of each generation (ε₀ = inf).
    params_ : dict[str, float]
        The final population's particle with the smallest distance (plus fixed parameters):
        the point value written to ``parameters.csv``. With correlated, weakly identified
        parameters the weighted mean of a population can lie where no particle fits (measured:
        D 122 at the mean against 26 for the best particle), so the best particle is used.
    posterior_mean_ : dict[str, float]
        Weighted posterior mean of the free parameters.
    loss_ : float
        D at ``params_`` (its distance in the final population).
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
                 workers: int = 1, store_dir=None, progress: bool = False) -> None:
        super().__init__(scenario, bounds, replicates=replicates, seed=seed, workers=workers,
                         store_dir=store_dir, progress=progress)
        self.population_size = population_size
        self.generations = generations
        self.quantile = quantile
        self.max_evaluations = max_evaluations

    def fit(self, observations: pd.DataFrame) -> ABCCalibrator:
        """Sample the ABC posterior given ``observations``; returns ``self``.

        Raises
        ------
        CalibrationError
            No free parameter, no observation, a failed model run, or a budget too small for
            the first generation.
        """
        self._begin(observations)
        n = self.population_size
        if self.max_evaluations < n:
            raise CalibrationError(f"abc.max_evaluations ({self.max_evaluations}) is below "
                                   f"abc.population_size ({n})")
        rng = np.random.default_rng(self.seed)
        lo, hi = np.array(self.search_bounds_).T
        with self._session():
            theta = lo + (hi - lo) * rng.random((n, len(lo)))
            dist = self._evaluate(theta, generation=0, epsilon=np.inf)
            weights = np.full(n, 1.0 / n)
            epsilons = [np.inf]
            for gen in range(1, self.generations):
                eps = float(np.quantile(dist, self.quantile))
                cov = 2 * np.atleast_2d(np.cov(theta.T, aweights=weights))
                cov += 1e-12 * np.eye(len(lo)) * (hi - lo) ** 2
                acc_t, acc_d = [], []
                while len(acc_t) < n and len(self._rows) < self.max_evaluations:
                    batch = min(n, self.max_evaluations - len(self._rows))
                    parents = rng.choice(n, size=8 * batch, p=weights)
                    prop = theta[parents] + rng.multivariate_normal(np.zeros(len(lo)), cov,
                                                                    8 * batch)
                    prop = prop[np.all((prop >= lo) & (prop <= hi), axis=1)][:batch]
                    if len(prop) == 0:
                        continue
                    d = self._evaluate(prop, generation=gen, epsilon=eps)
                    acc_t.extend(prop[d <= eps])
                    acc_d.extend(d[d <= eps])
                if len(acc_t) < n:  # budget spent: keep the last complete population
                    break
                new_t, new_d = np.array(acc_t[:n]), np.array(acc_d[:n])
                inv = np.linalg.inv(cov)
                diff = new_t[:, None, :] - theta[None, :, :]
                kern = np.exp(-0.5 * np.einsum("ijk,kl,ijl->ij", diff, inv, diff))
                w = 1.0 / (kern @ weights)
                theta, dist, weights = new_t, new_d, w / w.sum()
                epsilons.append(eps)
            self.posterior_mean_ = dict(zip(self.names_, weights @ theta))
        best = int(np.argmin(dist))
        self.loss_ = float(dist[best])
        self.posterior_ = pd.DataFrame(theta, columns=self.names_).assign(distance=dist,
                                                                          weight=weights)
        self.epsilons_ = epsilons
        self._end(theta[best])
        return self
