"""Lever analysis: which levers push each 2027 target furthest, robust across uncertainties.

Levers are the factors; uncertainties are the conditions. The factors of kind ``lever`` are
sampled (Saltelli design, Sobol indices); the factors of kind ``uncertainty`` are not: ``n``
uncertainty scenarios are drawn by Latin hypercube over them (plus, optionally, one draw each of
the calibration posterior), and the lever analysis is repeated in every scenario. Per output and
lever the result gives ST with its interval (mean over scenarios), the signed effect in the
output's unit per ``step`` of the lever, the change in the probability of meeting the target
from the low to the high quarter of the lever's range, and robustness: the share of scenarios in
which the lever ranks in the top three and the spread of its effect.

Real runs or an emulator (``emulator``): with an emulator, a Gaussian process per output is
trained on a Latin hypercube of real runs over levers and uncertainties together, its
cross-validated error is reported, the Sobol sums are computed on its predictions, and its top
three levers are confirmed on a real-run Saltelli design in the first scenario.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample
from scipy import stats
from scipy.stats import qmc

from urban_sim.analysis.sensitivity.indices import is_constant
from urban_sim.analysis.sensitivity.outputs import HEADLINE, ScalarOutput
from urban_sim.config.experiment import Experiment
from urban_sim.errors import ConfigError

YEAR = 2027
"""Year of the targets ranked (the plan's 2027 targets)."""

RANKING_COLUMNS = ["target", "year", "lever", "group", "rank", "ST", "ST_conf", "effect_per_unit",
                   "unit", "direction", "p_met_change", "robust_top3_share", "effect_low",
                   "effect_high", "effect_spread", "S1", "per", "settled", "emulator_r2", "p_met"]


@dataclass
class LeverStudy:
    """Result of :func:`run_lever_study` (tables described in ``docs/sensitivity.md``)."""

    ranking: pd.DataFrame
    per_scenario: pd.DataFrame
    scenarios: pd.DataFrame
    outputs: pd.DataFrame
    prim: pd.DataFrame
    convergence: pd.DataFrame
    emulator_cv: pd.DataFrame | None
    confirmation: pd.DataFrame | None
    checks: dict
    warnings: list[str]
    meta: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------- outputs
def lever_outputs(targets, year: int = YEAR) -> list[ScalarOutput]:
    """Ranked outputs: every target of ``year`` (value and met), the headline outcomes and the
    number of targets of ``year`` met."""
    outs: list[ScalarOutput] = []
    for t in targets:
        if t.year == year:
            outs += [ScalarOutput(f"{t.indicator}_{year}", "value", t.indicator, year, True),
                     ScalarOutput(f"{t.indicator}_{year}_met", "met", t.indicator, year, True)]
    outs += [ScalarOutput(f"{h}_{year}", "value", h, year, False) for h in HEADLINE]
    outs.append(ScalarOutput(f"targets_met_{year}", "n_met", None, year, False))
    return outs


def _display(o: ScalarOutput) -> tuple[float, str]:
    """Factor turning a difference of the output into its reporting unit, and that unit (the
    catalogue's English unit label; shares in percentage points)."""
    if o.stat == "n_met":
        return 1.0, "targets"
    from urban_sim.model.outputs import OUTPUTS, unit_label

    if o.indicator not in OUTPUTS:
        return 1.0, ""
    if OUTPUTS[o.indicator].unit == "share":
        return 100.0, "pp"
    return 1.0, unit_label(o.indicator, "en")


# ------------------------------------------------------------------------------- scenarios
def draw_scenarios(exp: Experiment) -> pd.DataFrame:
    """Uncertainty scenarios: Latin hypercube (scipy.stats.qmc, seed ``scenarios.seed``) over
    the uncertainty factors, mapped through their inverse CDFs; with ``scenarios.posterior`` one
    weighted draw of the posterior per scenario (columns ``parameters.<name>``; distinct
    particles, drawn without replacement, while the posterior has at least ``n`` of them).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario`` (0..n-1), ``unit:<factor>`` and the factor values.

    Raises
    ------
    ConfigError
        The posterior file is missing or has no parameter columns.
    """
    s = exp.scenarios
    unc = exp.uncertainties
    frame = pd.DataFrame({"scenario": np.arange(s.n)})
    if unc:
        u = qmc.LatinHypercube(d=len(unc), seed=s.seed).random(s.n)
        for j, f in enumerate(unc):
            frame[f"unit:{f.name}"] = u[:, j]
            frame[f.name] = f.ppf(np.clip(u[:, j], 1e-12, 1 - 1e-12))
    if s.posterior:
        names, particles, w = read_posterior_file(exp)
        rng = np.random.default_rng(s.seed)
        # distinct particles (weighted, without replacement) while there are enough: a
        # particle drawn twice would repeat a scenario's behavioural parameters
        distinct = s.n <= int((w > 0).sum())
        pick = rng.choice(len(w), size=s.n, p=w, replace=not distinct)
        frame["posterior_sample"] = pick
        for j, c in enumerate(names):
            frame[f"parameters.{c}"] = particles[pick, j]
    return frame


def read_posterior_file(exp: Experiment) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Parameter names, particles (n, k) and normalised weights of ``scenarios.posterior``
    (a path relative to the experiment file; the format of ``urban_sim.data.posterior``:
    parameter columns, ``weight``, and the metadata columns ``sample, distance, year, source,
    status``, which are not parameters).

    Raises
    ------
    ConfigError
        The file is missing or malformed.
    """
    from urban_sim.data.posterior import META_COLUMNS

    path = Path(exp.scenarios.posterior)
    if not path.is_absolute() and exp._source:
        path = Path(exp._source).parent / path
    if not path.is_file():
        raise ConfigError(f"{exp._source or exp.name}: scenarios.posterior {path}: not found "
                          "(written by `urban-sim calibrate` with method abc, write_data: true)")
    post = pd.read_csv(path, encoding="utf-8-sig")
    skip = {*META_COLUMNS, "generation"}
    names = tuple(c for c in post.columns if c not in skip)
    if not names or post.empty:
        raise ConfigError(f"{path}: no parameter columns")
    try:
        particles = post[list(names)].to_numpy(float)
    except ValueError as e:
        raise ConfigError(f"{path}: parameter columns must be numbers ({e})") from e
    w = post["weight"].to_numpy(float) if "weight" in post else np.ones(len(post))
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(f"{path}: column 'weight' must be finite, ≥ 0 and not all 0")
    if not np.isfinite(particles).all():
        raise ConfigError(f"{path}: parameter values must be finite")
    return names, particles, w / w.sum()


def posterior_units(particles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower bound and width mapping each posterior parameter to [0, 1] for the emulator
    (min and max over the particles; width 1 for a parameter that does not vary)."""
    lo, hi = particles.min(axis=0), particles.max(axis=0)
    return lo, np.where(hi > lo, hi - lo, 1.0)


def _conditions(scen: pd.DataFrame) -> list[str]:
    return [c for c in scen.columns
            if c not in ("scenario", "posterior_sample") and not c.startswith("unit:")]


# ------------------------------------------------------------------------------- statistics
def _sobol(problem: dict, Y: pd.DataFrame, N: int, seed: int, resamples: int) -> dict:
    """ST, ST_conf, S1 per output column (None for a constant output)."""
    out = {}
    for o in Y.columns:
        y = Y[o].to_numpy(float)
        if is_constant(y):
            out[o] = None
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            S = sobol_analyze.analyze(problem, y, calc_second_order=False,
                                      num_resamples=resamples, conf_level=0.95, seed=seed)
        out[o] = (np.asarray(S["ST"]), np.asarray(S["ST_conf"]), np.asarray(S["S1"]))
    return out


def _slopes(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS slopes of ``y`` on the columns of ``X`` (with intercept) and their standard errors."""
    A = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(len(y) - A.shape[1], 1)
    cov = np.linalg.pinv(A.T @ A) * (resid @ resid) / dof
    return coef[1:], np.sqrt(np.clip(np.diag(cov)[1:], 0, None))


def p_met_normal(mean: np.ndarray, sd: float, t) -> np.ndarray:
    """P(met) of a run whose value is Normal(mean, sd) (seed noise) for target ``t``."""
    sd = max(sd, 1e-12)
    if t.operator == ">=":
        return stats.norm.sf((t.target - mean) / sd)
    if t.operator == "<=":
        return stats.norm.cdf((t.target - mean) / sd)
    return stats.norm.cdf((t.target_high - mean) / sd) - stats.norm.cdf((t.target - mean) / sd)


def lever_unit(name: str, levers, lang: str = "en") -> str:
    """`` <unit>`` of a lever (a catalogue unit code such as ``million_yuan_per_year`` is shown
    with its label in ``lang``), or ``""``."""
    from urban_sim.model.outputs import UNITS

    u = next((f.unit for f in levers if f.name == name), "")
    if u in UNITS:
        u = UNITS[u][1 if lang == "zh" else 0]
    return f" {u}" if u else ""


def rank_levers(per: pd.DataFrame, outputs: list[ScalarOutput], levers, n_scen: int,
                settled: dict[str, bool], r2: dict[str, float]) -> pd.DataFrame:
    """Aggregate per-scenario results into ``lever_ranking.csv`` (see module docstring)."""
    groups = {f.name: (f.group or "") for f in levers}
    rows = []
    for o in outputs:
        if o.stat == "met":
            continue
        sub = per[per["output"] == o.name]
        if sub.empty:
            continue
        factor, unit = _display(o)
        agg = sub.groupby("lever", sort=False).agg(
            ST=("ST", "mean"), ST_conf=("ST_conf", "mean"), S1=("S1", "mean"),
            effect=("effect", "mean"), low=("effect_low", "min"), high=("effect_high", "max"),
            spread=("effect", "std"), p_met=("p_met_change", "mean"), share=("p_met", "mean"),
            top3=("scenario_rank", lambda r: float(np.mean(r <= 3))))
        agg = agg.sort_values("ST", ascending=False)
        for rank, (lever, a) in enumerate(agg.iterrows(), start=1):
            step = next(f.effect_step for f in levers if f.name == lever)
            eff, lo, hi = a.effect * factor, a.low * factor, a.high * factor
            direction = "+" if lo > 0 else "-" if hi < 0 else "?"
            rows.append({
                "target": o.indicator if o.indicator else o.name, "year": o.year, "lever": lever,
                "group": groups[lever], "rank": rank, "ST": a.ST, "ST_conf": a.ST_conf,
                "effect_per_unit": eff, "unit": f"{unit} per {step:g}{lever_unit(lever, levers)}",
                "direction": direction,
                "p_met_change": a.p_met if o.is_target else np.nan,
                "robust_top3_share": a.top3, "effect_low": lo, "effect_high": hi,
                "effect_spread": (a.spread if n_scen > 1 else 0.0) * factor, "S1": a.S1,
                "per": step, "settled": settled.get(o.name, True),
                "emulator_r2": r2.get(o.name, np.nan),
                "p_met": a.share if o.is_target else np.nan})
    return pd.DataFrame(rows, columns=RANKING_COLUMNS)


def _top3(ST: np.ndarray, names: list[str]) -> tuple[str, ...]:
    return tuple(names[i] for i in np.argsort(-ST)[:3])


def scenario_tables(exp: Experiment, outputs: list[ScalarOutput], targets, scen: pd.DataFrame,
                    predict, seed_sd: dict[str, float], *, N: int) -> tuple[pd.DataFrame, dict]:
    """Sobol indices, effects and P(met) changes of every lever, output and scenario.

    ``predict(scenario_row, unit_values, lever_values) -> DataFrame`` gives the output means (or, for real
    runs, the replicate means with ``<name>_met`` as the share of replicates meeting the target)
    at the Saltelli points of the levers.

    Returns
    -------
    per : pandas.DataFrame
        ``scenario, output, lever, ST, ST_conf, S1, effect, effect_low, effect_high,
        p_met_change, p_met, scenario_rank`` (effects per ``step`` in the output's own unit;
        ``p_met`` = mean P(met) over the design: a change of P(met) is ~0 by construction when
        the target is met in (almost) every run or in none).
    top3 : dict
        ``output -> list of (top3 at N/2, top3 at N)`` per scenario.
    """
    levers = exp.levers
    names = [f.name for f in levers]
    L = len(levers)
    problem = {"num_vars": L, "names": names, "bounds": [[0.0, 1.0]] * L}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        U = sobol_sample.sample(problem, N, calc_second_order=False, scramble=True, seed=exp.seed)
    V = np.column_stack([f.ppf(np.clip(U[:, j], 1e-12, 1 - 1e-12)) for j, f in enumerate(levers)])
    steps = np.array([f.effect_step for f in levers])
    by_key = {(t.indicator, t.year): t for t in targets}
    half = N // 2
    rows, top3 = [], {}
    for _, srow in scen.iterrows():
        Y = predict(srow, U, pd.DataFrame(V, columns=names))
        value_cols = [o.name for o in outputs if o.stat != "met"]
        full = _sobol(problem, Y[value_cols], N, exp.seed, exp.num_resamples)
        part = (_sobol(problem, Y[value_cols].iloc[: half * (L + 2)], half, exp.seed, 10)
                if half >= 2 else {})
        for o in outputs:
            if o.stat == "met" or full[o.name] is None:
                continue
            ST, conf, S1 = full[o.name]
            slope, se = _slopes(V, Y[o.name].to_numpy(float))
            if o.is_target:
                met = Y[f"{o.name}_met"].to_numpy(float) if f"{o.name}_met" in Y else \
                    p_met_normal(Y[o.name].to_numpy(float), seed_sd.get(o.name, 0.0),
                                 by_key[(o.indicator, o.year)])
                p_change = np.array([met[U[:, j] >= 0.75].mean() - met[U[:, j] <= 0.25].mean()
                                     for j in range(L)])
                p_met = float(np.mean(met))
            else:
                p_change, p_met = np.full(L, np.nan), np.nan
            order = np.argsort(-ST)
            srank = np.empty(L, int)
            srank[order] = np.arange(1, L + 1)
            if part.get(o.name) is not None:
                top3.setdefault(o.name, []).append((_top3(part[o.name][0], names),
                                                    _top3(ST, names)))
            for j, f in enumerate(levers):
                rows.append({"scenario": int(srow["scenario"]), "output": o.name, "lever": f.name,
                             "ST": ST[j], "ST_conf": conf[j], "S1": S1[j],
                             "effect": slope[j] * steps[j],
                             "effect_low": (slope[j] - 1.96 * se[j]) * steps[j],
                             "effect_high": (slope[j] + 1.96 * se[j]) * steps[j],
                             "p_met_change": p_change[j], "p_met": p_met,
                             "scenario_rank": srank[j]})
    return pd.DataFrame(rows), top3


def convergence_table(top3: dict) -> pd.DataFrame:
    """``output, scenario, top3_half, top3, same_set, settled`` (settled: same top-three set at
    N/2 and N in every scenario)."""
    rows = []
    for o, pairs in top3.items():
        same = [set(a) == set(b) for a, b in pairs]
        for s, ((a, b), ok) in enumerate(zip(pairs, same, strict=True)):
            rows.append({"output": o, "scenario": s, "top3_half": "; ".join(a),
                         "top3": "; ".join(b), "same_set": ok, "settled": all(same)})
    return pd.DataFrame(rows, columns=["output", "scenario", "top3_half", "top3", "same_set",
                                       "settled"])


def prim_outcomes(runs: pd.DataFrame, outputs: list[ScalarOutput]) -> dict:
    """Yes/no outcomes for PRIM: each 2027 target met (when it varies), and "at least k targets
    met" for k at the 25th, 50th and 75th percentiles of the number met."""
    out = {}
    for o in outputs:
        if o.stat == "met" and o.name in runs:
            y = runs[o.name].to_numpy(float) > 0.5
            if 0 < y.mean() < 1:
                out[o.name] = (f"{o.indicator} {o.year} met", y)
    n = [o for o in outputs if o.stat == "n_met"]
    if n and n[0].name in runs:
        count = runs[n[0].name].to_numpy(float)
        for k in sorted({int(math.ceil(q)) for q in np.percentile(count, [25, 50, 75])}):
            y = count >= k
            if 0 < y.mean() < 1:
                out[f"targets_met_{n[0].year}_ge_{k}"] = (f"at least {k} targets of {n[0].year} met", y)
    return out
