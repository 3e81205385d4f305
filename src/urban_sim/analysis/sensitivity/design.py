"""Sensitivity designs: SALib samples (Sobol' / Saltelli, Morris) mapped to factor values.

SALib draws the design in the unit hypercube; each column goes through the factor's inverse CDF
(scipy.stats). Integer factors are sampled on their levels and recorded as integers.

References
----------
Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
Computer Physics Communications 145, 280-297.
Campolongo, F., Cariboni, J. and Saltelli, A. (2007). An effective screening design for
sensitivity analysis of large models. Environ. Model. Softw. 22, 1509-1518.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from urban_sim.config.experiment import Experiment
from urban_sim.errors import ExperimentError

class SensitivityWarning(UserWarning):
    """A result needs care: constant output, wide intervals, no convergence, imputed NaN."""


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, SensitivityWarning, stacklevel=3)


@dataclass
class Design:
    """A sampled design.

    Attributes
    ----------
    unit : numpy.ndarray, shape (n_points, D)
        Unique design points in the unit hypercube (varied factors only).
    values : pandas.DataFrame, shape (n_points, n_factors)
        Factor values after the inverse CDF; fixed factors as constant columns.
    rows : dict[str, numpy.ndarray]
        For each SALib design (``factors``, ``groups`` or ``morris``) the point index of each
        of its rows, in SALib's row order. Points shared by two designs (the A and B matrices)
        are run once.
    problems : dict[str, dict]
        The SALib problem of each design.
    meta : dict
        method, N, D, second_order, seed, groups, fixed factors, run counts ...
    """

    unit: np.ndarray
    values: pd.DataFrame
    rows: dict[str, np.ndarray]
    problems: dict[str, dict]
    meta: dict = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return len(self.values)


def sobol_rows(N: int, D: int, second_order: bool) -> int:
    """Rows of a Saltelli design: ``N (2 D + 2)`` with second order, else ``N (D + 2)``."""
    return N * (2 * D + 2 if second_order else D + 2)


def make_design(exp: Experiment, *, second_order: bool | None = None,
                notes: list[str] | None = None) -> Design:
    """Draw the design of ``exp`` (SALib) and map it to factor values.

    Parameters
    ----------
    exp : Experiment
    second_order : bool, optional
        Override of ``exp.second_order`` (Sobol).
    notes : list of str, optional
        Warnings are appended here (and issued as :class:`SensitivityWarning`).

    Returns
    -------
    Design

    Raises
    ------
    ExperimentError
        If a factor's inverse CDF gives a non-finite value.

    Notes
    -----
    Sobol: ``SALib.sample.sobol.sample`` (scrambled Sobol' sequence seeded by ``exp.seed``).
    With ``groups`` the grouped design is drawn too; its A and B matrices are the same as the
    ungrouped one's, so only its cross rows AB_g add runs. Morris: unit-grid trajectories; for
    unbounded distributions the grid [0, 1] is mapped to the quantiles ``morris.truncate``.
    """
    notes = [] if notes is None else notes
    varied = exp.varied
    names = [f.name for f in varied]
    D = len(names)
    so = exp.second_order if second_order is None else second_order
    problem = {"num_vars": D, "names": names, "bounds": [[0.0, 1.0]] * D}
    group_names = [f.group or f.name for f in varied]
    grouped = exp.groups and len(set(group_names)) < D
    if exp.groups and not grouped:
        _warn(notes, "groups: true but every factor is alone in its group; grouped indices "
                     "equal the factor indices and are not repeated")
    problems: dict[str, dict] = {}
    designs: dict[str, np.ndarray] = {}
    if exp.method == "sobol" and exp.N & (exp.N - 1):
        _warn(notes, f"N = {exp.N} is not a power of 2, which weakens the convergence of "
                     f"Sobol' sequences; use N: {2 ** math.ceil(math.log2(exp.N))}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib's own power-of-2 warning (ours is above)
        if exp.method == "sobol":
            problems["factors"] = problem
            designs["factors"] = sobol_sample.sample(problem, exp.N, calc_second_order=so,
                                                     scramble=True, seed=exp.seed)
            if grouped:
                problems["groups"] = {**problem, "groups": group_names}
                designs["groups"] = sobol_sample.sample(problems["groups"], exp.N,
                                                        calc_second_order=so, scramble=True,
                                                        seed=exp.seed)
        else:
            key = "groups" if grouped else "factors"
            problems[key] = {**problem, "groups": group_names} if grouped else problem
            m = exp.morris
            designs[key] = morris_sample.sample(problems[key], m.trajectories,
                                                num_levels=m.levels, seed=exp.seed)
    stacked = np.vstack(list(designs.values()))
    _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    point_of_row = rank[inverse.ravel()]
    unit = stacked[first[order]]
    rows, start = {}, 0
    for key, X in designs.items():
        rows[key] = point_of_row[start:start + len(X)]
        start += len(X)
    values = _factor_values(exp, unit)
    replicates = exp.replicates if exp.model == "county" else 1
    meta = {
        "experiment": exp.name, "model": exp.model, "method": exp.method, "N": exp.N, "D": D,
        "second_order": bool(so), "seed": exp.seed, "factors": names,
        "groups": group_names if grouped else None, "fixed": exp.fixed,
        "design_rows": {k: len(v) for k, v in designs.items()}, "n_points": len(unit),
        "replicates": replicates, "n_runs": len(unit) * replicates,
        "nan_policy": exp.nan_policy,
        "morris": exp.morris.model_dump(mode="json") if exp.method == "morris" else None,
    }
    return Design(unit, values, rows, problems, meta)


def _factor_values(exp: Experiment, unit: np.ndarray) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {}
    j = 0
    for f in exp.factors:
        if f.fixed_value is not None:
            cols[f.name] = np.full(len(unit), f.fixed_value)
            continue
        u = unit[:, j]
        j += 1
        if exp.method == "morris" and f.unbounded:
            lo, hi = exp.morris.truncate
            u = lo + u * (hi - lo)
        else:
            u = np.clip(u, 1e-12, 1 - 1e-12)
        x = f.ppf(u)
        if not np.all(np.isfinite(x)):
            raise ExperimentError(f"factor {f.name!r}: the {f.distribution} distribution gave "
                                  "non-finite values; bound it (truncnormal, uniform)")
        cols[f.name] = np.rint(x).astype(np.int64) if f.integer else x
    return pd.DataFrame(cols)


def _fmt_row(row) -> str:
    items = row.items() if hasattr(row, "items") else row
    return ", ".join(f"{k}={v:.4g}" for k, v in items)
