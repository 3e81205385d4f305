"""Analytic test functions with known Sobol indices, to check the sensitivity pipeline.

Both functions are vectorised over the rows of a design matrix and deterministic. An experiment
selects them with ``model: ishigami`` or ``model: sobol_g``.

References
----------
Ishigami, T. and Homma, T. (1990). An importance quantification technique in uncertainty
analysis for computer models. ISUMA '90, 398-403.
Sobol', I. M. (1998). On quasi-Monte Carlo integrations. Math. Comput. Simul. 47, 103-112.
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Computer
Physics Communications 181, 259-270 (Sobol G function, analytic indices).
"""

from __future__ import annotations

import numpy as np

SOBOL_G_DEFAULT_A: tuple[float, ...] = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0)
"""Usual G-function coefficients (Saltelli et al. 2010): small ``a`` = important input."""


def ishigami(X: np.ndarray, *, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami function ``sin x1 + a sin² x2 + b x3⁴ sin x1``.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_runs, 3)
        Inputs, each uniform on [-pi, pi].
    a, b : float
        Coefficients (defaults 7 and 0.1, as in SALib's regression tests).

    Returns
    -------
    numpy.ndarray, shape (n_runs,)
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total Sobol indices (S1, ST) of :func:`ishigami`.

    Returns
    -------
    S1, ST : numpy.ndarray, shape (3,)

    Notes
    -----
    ``V = a²/8 + b π⁴/5 + b² π⁸/18 + 1/2``, ``V1 = (1 + b π⁴/5)²/2``, ``V2 = a²/8``,
    ``V13 = 8 b² π⁸/225``; ``S1 = (V1, V2, 0)/V``, ``ST = (V1 + V13, V2, V13)/V``.
    For a=7, b=0.1: S1 ≈ (0.314, 0.442, 0), ST ≈ (0.558, 0.442, 0.244).
    """
    pi = np.pi
    v = a**2 / 8 + b * pi**4 / 5 + b**2 * pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * pi**8 / 225
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def sobol_g(X: np.ndarray, a: np.ndarray | list[float] | None = None) -> np.ndarray:
    """Sobol G function ``prod_i (|4 x_i - 2| + a_i) / (1 + a_i)``.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_runs, D)
        Inputs, each uniform on [0, 1].
    a : array_like, shape (D,), optional
        Non-negative coefficients; default the first D of :data:`SOBOL_G_DEFAULT_A`
        (99 beyond the eighth).

    Returns
    -------
    numpy.ndarray, shape (n_runs,)
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    a = _g_coefficients(a, X.shape[1])
    return np.prod((np.abs(4 * X - 2) + a) / (1 + a), axis=1)


def sobol_g_indices(a: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Analytic S1 and ST of :func:`sobol_g`.

    Notes
    -----
    ``V_i = 1 / (3 (1 + a_i)²)``, ``V = prod(1 + V_i) - 1``, ``S1_i = V_i / V``,
    ``ST_i = V_i prod_{j≠i}(1 + V_j) / V``.
    """
    a = np.asarray(a, dtype=float)
    vi = 1.0 / (3.0 * (1.0 + a) ** 2)
    v = np.prod(1 + vi) - 1
    return vi / v, vi * np.prod(1 + vi) / (1 + vi) / v


def _g_coefficients(a, d: int) -> np.ndarray:
    if a is None:
        a = [SOBOL_G_DEFAULT_A[i] if i < len(SOBOL_G_DEFAULT_A) else 99.0 for i in range(d)]
    a = np.asarray(a, dtype=float)
    if a.shape != (d,):
        raise ValueError(f"sobol_g needs {d} coefficients 'a', got {a.size}")
    return a
