"""Gaussian-process emulator of model outputs (scikit-learn), used to carry Sobol sums when real
runs at the design's volume do not fit in the time available.

One :class:`~sklearn.gaussian_process.GaussianProcessRegressor` per output on inputs in the unit
hypercube, kernel ``C * Matern(nu = 2.5, one length scale per input) + White`` (the white term
absorbs seed noise), outputs standardised. The cross-validated error per output is reported
(``r2``, ``rmse``, ``rmse / sd``): an index computed on a poor emulator (``r2 < 0.8``) is flagged.

References
----------
Rasmussen, C. E. and Williams, C. K. I. (2006). Gaussian Processes for Machine Learning. MIT Press.
Marrel, A. et al. (2009). Calculations of Sobol indices for the Gaussian process metamodel.
Reliability Engineering & System Safety 94, 742-751.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

R2_MIN = 0.8
"""Cross-validated R² below which an output's emulated indices are flagged as unreliable."""


def _make_gp(dim: int, seed: int, kernel=None):
    """A GP with the kernel of the module docstring (hyperparameters fitted by maximum marginal
    likelihood, one optimiser start), or with ``kernel`` fixed (no optimisation)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    if kernel is not None:
        return GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None)
    kernel = (ConstantKernel(1.0, (1e-3, 1e3))
              * Matern(length_scale=np.full(dim, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5)
              + WhiteKernel(1e-2, (1e-8, 1.0)))
    return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=0,
                                    random_state=seed)


class Emulator:
    """Per-output GP emulators.

    Parameters
    ----------
    seed : int
        Seed of the optimiser restarts and of the cross-validation folds.

    Attributes
    ----------
    outputs_ : list of str
    models_ : dict[str, GaussianProcessRegressor or float]
        A constant output is stored as its value.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray, Y: pd.DataFrame, kernels: dict | None = None) -> "Emulator":
        """Fit on ``X`` (shape (n, d), unit hypercube) and ``Y`` (n rows, one column per output);
        with ``kernels`` (output -> fitted kernel) the hyperparameters are kept fixed. Returns
        ``self``. BLAS runs single-threaded (threads oversubscribe a shared machine)."""
        from threadpoolctl import threadpool_limits

        self.outputs_ = list(Y.columns)
        self.models_ = {}
        for o in self.outputs_:
            y = Y[o].to_numpy(float)
            if np.ptp(y) <= 1e-12 * (1 + abs(y.mean())):
                self.models_[o] = float(y.mean())
                continue
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")  # convergence warnings of the optimiser
                gp = _make_gp(X.shape[1], self.seed, (kernels or {}).get(o))
                self.models_[o] = gp.fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> pd.DataFrame:
        """Predicted means, shape (len(X), n_outputs)."""
        cols = {}
        for o, m in self.models_.items():
            cols[o] = np.full(len(X), m) if isinstance(m, float) else m.predict(X)
        return pd.DataFrame(cols)

    def cross_validate(self, X: np.ndarray, Y: pd.DataFrame, folds: int) -> pd.DataFrame:
        """K-fold cross-validated error per output of the fitted emulator (hyperparameters of
        the full fit kept fixed, each fold's GP conditioned on the other folds only):
        ``output, r2, rmse, sd, rmse_over_sd, reliable`` (``r2 >= R2_MIN``). Constant outputs
        get r2 = 1."""
        from sklearn.model_selection import KFold

        kernels = {o: m.kernel_ for o, m in self.models_.items() if not isinstance(m, float)}
        pred = pd.DataFrame(np.nan, index=range(len(X)), columns=Y.columns)
        for train, test in KFold(folds, shuffle=True, random_state=self.seed).split(X):
            fold = Emulator(self.seed).fit(X[train], Y.iloc[train], kernels)
            pred.iloc[test] = fold.predict(X[test]).to_numpy()
        rows = []
        for o in Y.columns:
            y, p = Y[o].to_numpy(float), pred[o].to_numpy(float)
            sd = float(np.std(y))
            rmse = float(np.sqrt(np.mean((y - p) ** 2)))
            r2 = 1.0 if sd <= 1e-12 * (1 + abs(y.mean())) else 1 - rmse ** 2 / sd ** 2
            rows.append({"output": o, "r2": r2, "rmse": rmse, "sd": sd,
                         "rmse_over_sd": rmse / sd if sd else 0.0, "reliable": r2 >= R2_MIN})
        return pd.DataFrame(rows)
