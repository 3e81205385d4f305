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

MIN_CUT = 0.1
"""A PRIM limit that keeps more than ``1 - MIN_CUT`` of a factor's range is no restriction (a
few peels of ``peel_alpha`` that barely change the density); it is dropped and named."""

QP_MAX = 0.05
"""A PRIM limit whose quasi-p-values (EMA Workbench, Bryant and Lempert 2010) all exceed
``QP_MAX`` is not distinguishable from chance; it is dropped and named."""

PRIM_COLUMNS = ["outcome", "label", "n_runs", "base_rate", "coverage", "density", "mass",
                "restricted", "box", "note"]


def prim_box(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05, min_cut: float = MIN_CUT) -> dict:
    """The PRIM box of ``y`` (bool, one per row of ``x``) with the largest coverage among boxes
    of density ≥ ``threshold``.

    Returns
    -------
    dict
        ``base_rate`` (share of runs with ``y``), ``coverage``, ``density``, ``mass``,
        ``restricted`` (list of ``(factor, low, high)`` limits that cut at least ``min_cut`` of
        the factor's range in the data), ``dropped`` (factors whose PRIM limit kept more than
        ``1 - min_cut`` of their range, or whose quasi-p-values all exceed :data:`QP_MAX`: dropped
        as no real restriction; coverage, density and mass are those of the box without them)
        and ``note`` (why there is no box, and which restrictions were dropped) (why there is no box, when there is none: coverage etc. then NaN).
    """
    y = np.asarray(y, bool)
    out = {"n_runs": len(y), "base_rate": float(y.mean()), "coverage": np.nan,
           "density": np.nan, "mass": np.nan, "restricted": [], "dropped": [], "note": ""}
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
    qp = box.qp[i] if i < len(box.qp) else {}
    restricted, dropped, insignificant = [], [], []
    keep = np.ones(len(y), bool)
    for col in x.columns:
        lo, hi = float(lims[col].iloc[0]), float(lims[col].iloc[1])
        lo0, hi0 = float(init[col].iloc[0]), float(init[col].iloc[1])
        if lo <= lo0 + 1e-12 and hi >= hi0 - 1e-12:
            continue
        width = hi0 - lo0
        if width <= 0 or (hi - lo) >= (1 - min_cut) * width:
            dropped.append(col)  # covers (almost) the whole range: no restriction
            continue
        q = [v for v in np.ravel(qp.get(col, [])) if v is not None and np.isfinite(v)]
        if q and min(q) > QP_MAX:
            insignificant.append(col)  # the peel is not distinguishable from chance
            continue
        restricted.append((col, lo, hi))
        v = x[col].to_numpy(float)
        keep &= (v >= lo) & (v <= hi)
    # statistics of the box actually reported (after dropping the trivial restrictions)
    n_in = int(keep.sum())
    out.update(coverage=float(y[keep].sum() / y.sum()),
               density=float(y[keep].mean()) if n_in else np.nan,
               mass=float(keep.mean()), restricted=restricted,
               dropped=dropped + insignificant)
    notes = []
    if dropped:
        notes.append(f"dropped {len(dropped)} restriction(s) keeping ≥ {1 - min_cut:.0%} of the "
                     f"factor's range (no real restriction): {', '.join(dropped)}")
    if insignificant:
        notes.append(f"dropped {len(insignificant)} restriction(s) with quasi-p > {QP_MAX:g} "
                     f"(not significant): {', '.join(insignificant)}")
    if not restricted:
        notes.append(f"met with p ≥ {threshold:g} without any restriction: no condition"
                     if out["density"] >= threshold else
                     f"no restriction cuts more than {min_cut:.0%} of a range: no condition "
                     f"(density without them {out['density']:.2f})")
    elif out["density"] < threshold:
        notes.append(f"density {out['density']:.2f} after dropping the trivial restrictions "
                     f"(below {threshold:g})")
    out["note"] = "; ".join(notes)
    return out


def discover(x: pd.DataFrame, outcomes: dict[str, tuple[str, np.ndarray]], *,
             threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05, min_cut: float = MIN_CUT) -> pd.DataFrame:
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
        r = prim_box(x, y, threshold=threshold, peel_alpha=peel_alpha, mass_min=mass_min,
                     min_cut=min_cut)
        box = "; ".join(f"{f} in [{lo:.4g}, {hi:.4g}]" for f, lo, hi in r["restricted"])
        rows.append({"outcome": name, "label": label, **{k: r[k] for k in
                     ("n_runs", "base_rate", "coverage", "density", "mass")},
                     "restricted": len(r["restricted"]), "box": box, "note": r["note"]})
    return pd.DataFrame(rows, columns=PRIM_COLUMNS)
