"""Scale and replicate checks run before a lever design (the design decides its own scale and
noise level instead of trusting a number in the experiment file).

* Scale: the base scenario at each candidate scale and at scale 1 (``check_replicates`` runs
  each, common seeds); the smallest scale whose headline means are all within
  ``scale_tolerance`` (relative) of scale 1 is used.
* Replicates: a pilot Latin hypercube over levers and uncertainties (``pilot_points`` points,
  2 replicates, at the chosen scale). For each ranked output, seed variance ``s2`` = mean
  within-point variance (ddof 1) and signal variance ``v = Var(point means) - s2 / 2``; the
  seed-noise share of the variance of an ``r``-replicate mean is ``(s2/r) / (v + s2/r)``; the
  smallest ``r`` with a share below ``noise_share`` is ``ceil(s2 (1 - q) / (q v))``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import qmc

from urban_sim.analysis.sensitivity.indices import is_constant
from urban_sim.analysis.sensitivity.outputs import ScalarOutput
from urban_sim.config.experiment import Experiment
from urban_sim.config.loader import with_overrides
from urban_sim.config.schema import Scenario


def choose_scale(exp: Experiment, base: Scenario, headline: list[ScalarOutput], run) -> tuple[float, pd.DataFrame]:
    """Smallest candidate scale whose headline means are within tolerance of scale 1.

    ``run(scenario, values, outputs, replicates)`` runs points (see ``run_points``).

    Returns
    -------
    scale : float
        1.0 when no smaller scale passes.
    table : pandas.DataFrame
        ``scale, output, mean, rel_diff, within``.
    """
    c = exp.checks
    scales = sorted({*c.scales, 1.0})
    means = {}
    for s in scales:
        sc = with_overrides(base, {"scale": s})
        runs = run(sc, pd.DataFrame(index=[0]), headline, c.check_replicates)
        means[s] = runs[[o.name for o in headline]].mean()
    ref = means[1.0]
    rows = []
    for s in scales:
        rel = (means[s] - ref).abs() / ref.abs().where(ref.abs() > 0, 1.0)
        rows += [{"scale": s, "output": o, "mean": means[s][o], "rel_diff": rel[o],
                  "within": bool(rel[o] <= c.scale_tolerance)} for o in ref.index]
    table = pd.DataFrame(rows)
    ok = table.groupby("scale")["within"].all()
    return float(min(s for s in scales if ok[s])), table


def choose_replicates(exp: Experiment, base: Scenario, outputs: list[ScalarOutput],
                      run) -> tuple[int, pd.DataFrame]:
    """Replicates per point keeping seed noise below ``noise_share`` of each ranked output's
    variance (capped at ``max_replicates``).

    Returns
    -------
    replicates : int
    table : pandas.DataFrame
        ``output, seed_variance, signal_variance, replicates_needed`` (``replicates_needed``
        is 0 for an output whose variation is all seed noise, which cannot be ranked).
    """
    c = exp.checks
    dims = exp.levers + exp.uncertainties
    U = qmc.LatinHypercube(d=len(dims), seed=exp.seed).random(c.pilot_points)
    values = pd.DataFrame({f.name: f.ppf(np.clip(U[:, j], 1e-12, 1 - 1e-12))
                           for j, f in enumerate(dims)})
    ranked = [o for o in outputs if o.stat != "met"]
    runs = run(base, values, ranked, 2)
    rows = []
    for o in ranked:
        s2 = float(runs.groupby("point")[o.name].var(ddof=1).mean())
        v = float(runs.groupby("point")[o.name].mean().var(ddof=1)) - s2 / 2
        q = c.noise_share
        if is_constant(runs[o.name].to_numpy(float)):
            need = 1  # does not vary (e.g. 0.98 everywhere up to rounding): nothing to rank
        else:
            need = 1 if s2 <= 0 else (0 if v <= 0 else math.ceil(s2 * (1 - q) / (q * v)))
        rows.append({"output": o.name, "seed_variance": s2, "signal_variance": v,
                     "replicates_needed": need})
    table = pd.DataFrame(rows)
    need = int(table["replicates_needed"].max()) if len(table) else 1
    return max(1, min(need, c.max_replicates)), table
