"""Conditions for success: scenario discovery with PRIM (EMA Workbench).

For a yes/no outcome per run (a target met; at least ``k`` targets met), PRIM peels the space
of levers and uncertainties down to a box in which the share of runs meeting the outcome (the
box *density*) is at least ``threshold`` while keeping as many of all successful runs as
possible (the box *coverage*). Of the peeling trajectory we keep the box with the largest
coverage among those with density ≥ threshold.

References
----------
Friedman, J. H. and Fisher, N. I. (1999). Bump hunting in high-dimensional data. Statistics and
Computing 9, 123-143.
Bryant, B. P. and Lempert, R. J. (2010). Thinking inside the box: a participatory,
computer-assisted approach to scenario discovery. Technological Forecasting and Social Change
77, 34-49.
Kwakkel, J. H. (2017). The Exploratory Modeling Workbench. Environ. Model. Softw. 96, 239-250.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

PRIM_COLUMNS = ["outcome", "label", "n_runs", "base_rate", "coverage", "density", "mass",
                "restricted", "box", "note"]


def prim_box(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05) -> dict:
    """The PRIM box of ``y`` (bool, one per row of ``x``) with the largest coverage among boxes
    of density ≥ ``threshold``.

    Returns
    -------
    dict
        ``base_rate`` (share of runs with ``y``), ``coverage``, ``density``, ``mass``,
        ``restricted`` (list of ``(factor, low, high)`` limits that differ from the data's
        range) and ``note`` (why there is no box, when there is none: coverage etc. then NaN).
    """
    y = np.asarray(y, bool)
    out = {"n_runs": len(y), "base_rate": float(y.mean()), "coverage": np.nan,
           "density": np.nan, "mass": np.nan, "restricted": [], "note": ""}
    if y.all():
        out.update(coverage=1.0, density=1.0, mass=1.0, note="met in every run: no condition")
        return out
    if not y.any():
        out["note"] = "met in no run: no box"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("EMA").setLevel(logging.ERROR)
        from ema_workbench.analysis import prim

        p = prim.Prim(x.reset_index(drop=True), y, threshold=threshold, peel_alpha=peel_alpha,
                      mass_min=mass_min)
        box = p.find_box()
    traj = box.peeling_trajectory
    ok = traj[traj["density"] >= threshold]
    if ok.empty:
        best = traj["density"].idxmax()
        out["note"] = (f"no box reaches density {threshold:g} (best {traj['density'].max():.2f} "
                       f"at coverage {traj.loc[best, 'coverage']:.2f})")
        return out
    i = int(ok["coverage"].idxmax())
    lims, init = box.box_lims[i], p.box_init
    restricted = []
    for col in x.columns:
        lo, hi = float(lims[col].iloc[0]), float(lims[col].iloc[1])
        lo0, hi0 = float(init[col].iloc[0]), float(init[col].iloc[1])
        if lo > lo0 + 1e-12 or hi < hi0 - 1e-12:
            restricted.append((col, lo, hi))
    out.update(coverage=float(traj.loc[i, "coverage"]), density=float(traj.loc[i, "density"]),
               mass=float(traj.loc[i, "mass"]), restricted=restricted)
    if not restricted:
        out["note"] = f"met with p ≥ {threshold:g} everywhere: no condition"
    return out


def discover(x: pd.DataFrame, outcomes: dict[str, tuple[str, np.ndarray]], *,
             threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05) -> pd.DataFrame:
    """PRIM box of every outcome.

    Parameters
    ----------
    x : pandas.DataFrame
        Lever and uncertainty values, one row per run.
    outcomes : dict
        ``name -> (label, y)`` with ``y`` bool of shape (len(x),).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PRIM_COLUMNS`; ``box`` is the restricted ranges as text
        ``factor in [low, high]; ...``.
    """
    rows = []
    for name, (label, y) in outcomes.items():
        r = prim_box(x, y, threshold=threshold, peel_alpha=peel_alpha, mass_min=mass_min)
        box = "; ".join(f"{f} in [{lo:.4g}, {hi:.4g}]" for f, lo, hi in r["restricted"])
        rows.append({"outcome": name, "label": label, **{k: r[k] for k in
                     ("n_runs", "base_rate", "coverage", "density", "mass")},
                     "restricted": len(r["restricted"]), "box": box, "note": r["note"]})
    return pd.DataFrame(rows, columns=PRIM_COLUMNS)
