"""How much of an ensemble band is parameter uncertainty and how much seed noise.

A posterior ensemble runs ``n_draws`` parameter vectors drawn from the posterior sample, each
with the same ``n_seeds`` replicate seeds (common random numbers). For an output ``Y`` the law
of total variance splits

    Var(Y) = Var_θ(E[Y | θ]) + E_θ[Var(Y | θ)]
           = parameter part   + seed-noise part,

estimated by one-way random-effects ANOVA: the seed part is the mean within-draw variance, the
parameter part the variance of the draw means minus the seed part / ``n_seeds`` (floored at 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.data.posterior import read_posterior
from urban_sim.runs.ensemble import RunSpec, run_ensemble
from urban_sim.runs.executors import make_executor
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.runs.store import ResultsStore


def variance_split(values: pd.DataFrame) -> dict[str, float]:
    """Parameter and seed-noise parts of the variance of ``value``.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``draw``, ``value``; every draw with the same number (≥ 2) of seeds.

    Returns
    -------
    dict
        ``mean``, ``total_var``, ``parameter_var``, ``seed_var``, ``parameter_share`` (of their
        sum, in [0, 1]), ``n_draws``, ``n_seeds``.
    """
    g = values.groupby("draw")["value"]
    n_seeds = int(g.size().min())
    within = float(g.var(ddof=1).mean())
    between = float(g.mean().var(ddof=1)) - within / n_seeds
    param = max(between, 0.0)
    return {"mean": float(values["value"].mean()), "total_var": param + within,
            "parameter_var": param, "seed_var": within,
            "parameter_share": param / (param + within) if param + within > 0 else float("nan"),
            "n_draws": int(g.ngroups), "n_seeds": n_seeds}


def posterior_ensemble(scenario: Scenario, n_draws: int, n_seeds: int, *, seed: int = 1,
                       workers: int = 1, store_dir=None) -> pd.DataFrame:
    """Run ``n_draws`` posterior particles (drawn by weight) × ``n_seeds`` common seeds.

    Returns
    -------
    pandas.DataFrame
        Long timeseries plus ``draw`` (the particle's position in the draw) and ``run_id``.
    """
    import tempfile

    names, particles, w = read_posterior(scenario.data_dir or _default_dir())
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(w), size=n_draws, p=w)
    seeds = replicate_seeds(scenario.seed, n_seeds)
    specs, draw_of = [], {}
    for d, i in enumerate(picks):
        params = {**dict(zip(names, particles[i].tolist())), **scenario.parameters}
        sc = scenario.model_copy(update={"parameters": params})
        for k, s in enumerate(seeds):
            spec = RunSpec.make(sc, s, k)
            specs.append(spec)
            draw_of[spec.run_id] = d
    with tempfile.TemporaryDirectory() as tmp, make_executor("processes", workers=workers) as ex:
        res = run_ensemble(specs, ResultsStore(store_dir or tmp), ex)
    ts = res.timeseries
    ts["draw"] = ts["run_id"].map(draw_of)
    return ts


def _default_dir():
    from urban_sim.data import DEFAULT_DATA_DIR

    return DEFAULT_DATA_DIR
