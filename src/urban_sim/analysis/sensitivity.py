"""Global sensitivity analysis: the bridge between experiment files, the model and SALib.

SALib draws the design in the unit hypercube and computes the indices; this module maps the
design through each factor's inverse CDF, runs the model (replicates with common random
numbers), turns timeseries into scalar outputs, guards the statistics against NaN, constant
outputs and mismatched designs, and writes the output folder.

Pipeline::

    design = make_design(exp)                     # Saltelli (Sobol') or Morris sample
    runs = evaluate(exp, design, executor=ex)     # one row per model run, outputs as columns
    result = analyse(exp, design, runs)           # S1/ST (+S2) with CIs, or mu_star/sigma
    write_outputs(out, exp, design, runs, result) # tables, figures, report.html

References
----------
Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
Computer Physics Communications 145, 280-297.
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Computer Physics
Communications 181, 259-270.
Campolongo, F., Cariboni, J. and Saltelli, A. (2007). An effective screening design for
sensitivity analysis of large models. Environ. Model. Softw. 22, 1509-1518 (Morris mu_star).
Herman, J. and Usher, W. (2017). SALib: an open-source Python library for sensitivity analysis.
JOSS 2(9), 97.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from urban_sim.analysis.analytic_models import ishigami, sobol_g
from urban_sim.config.experiment import Experiment
from urban_sim.config.loader import load_scenario, with_overrides
from urban_sim.config.schema import Scenario
from urban_sim.errors import ConfigError, ExperimentError
from urban_sim.runs.executors import Executor, Failed, SequentialExecutor
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.files import atomic_write, write_table, write_text

HEADLINE = ("urbanization_rate", "county_seat_population", "jobs_nonfarm")
"""Headline outcomes reported next to the targets (at 2027, or the last simulated year)."""

HEADLINE_YEAR = 2027
CONSTANT_RTOL = 1e-12
"""An output is constant when its standard deviation is ≤ 1e-12 (1 + |mean|)."""

ModelFn = Callable[[pd.DataFrame], pd.DataFrame]
"""A Python model: factor values (one row per design point) -> outputs (same rows)."""


class SensitivityWarning(UserWarning):
    """A result needs care: constant output, wide intervals, no convergence, imputed NaN."""


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, SensitivityWarning, stacklevel=3)


# ---------------------------------------------------------------------------------- design
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
        cols[f.name] = x
    return pd.DataFrame(cols)


# ------------------------------------------------------------------------------ outputs
_OUTPUT = re.compile(r"^(?P<ind>.+)_(?P<year>\d{4})(?P<suffix>_met|_shortfall)?$")


def default_outputs(targets, start_year: int, end_year: int) -> list[str]:
    """Every target reached by ``end_year`` (value, ``_met``, ``_shortfall``), the composite
    ``attainment_score`` and the headline outcomes at 2027 (or ``end_year`` if earlier)."""
    names = []
    for t in targets:
        if start_year < t.year <= end_year:
            names += [f"{t.indicator}_{t.year}", f"{t.indicator}_{t.year}_met",
                      f"{t.indicator}_{t.year}_shortfall"]
    if names:
        names.append("attainment_score")
    year = min(HEADLINE_YEAR, end_year)
    return names + [f"{h}_{year}" for h in HEADLINE]


def check_outputs(names: list[str], targets, start_year: int, end_year: int) -> None:
    """Raise ConfigError for an output that cannot be computed from a run."""
    keys = {(t.indicator, t.year) for t in targets}
    for name in names:
        if name == "attainment_score":
            continue
        m = _OUTPUT.match(name)
        if not m:
            raise ConfigError(f"output {name!r}: use INDICATOR_YEAR (e.g. urbanization_rate_2027), "
                              "INDICATOR_YEAR_met, INDICATOR_YEAR_shortfall or attainment_score")
        year = int(m["year"])
        if not start_year < year <= end_year:
            raise ConfigError(f"output {name!r}: year {year} is outside the simulated years "
                              f"{start_year + 1}-{end_year}")
        if m["suffix"] and (m["ind"], year) not in keys:
            raise ConfigError(f"output {name!r}: there is no plan target for {m['ind']} in {year}")


def target_score(t, value: float) -> tuple[float, float, float]:
    """``(met, shortfall, score)`` of one target.

    Notes
    -----
    ``met`` is 0 or 1. ``shortfall`` is the gap in the target's direction normalised by the
    target: ``max(0, target - value) / |target|`` for ``>=``, ``max(0, value - target) /
    |target|`` for ``<=``, the distance outside ``[low, high]`` over ``|low|`` for ``between``.
    ``score`` is ``min(1, value / target)`` for ``>=``, ``min(1, target / value)`` for ``<=``,
    ``max(0, 1 - shortfall)`` for ``between``. NaN values give NaN.
    """
    if math.isnan(value):
        return math.nan, math.nan, math.nan
    return float(bool(t.met(value))), t.shortfall(value) / (abs(t.target) or 1.0), t.score(value)


def county_outputs(timeseries: pd.DataFrame, targets, names: list[str]) -> dict[str, float]:
    """Scalar outputs of one county run (see :func:`default_outputs` for the names).

    Raises
    ------
    KeyError
        If an output's indicator is not in the timeseries.
    """
    county = timeseries[timeseries["place"] == "county"]
    lookup = dict(zip(zip(county["indicator"], county["year"]), county["value"], strict=True))
    indicators = set(county["indicator"])
    by_key = {(t.indicator, t.year): t for t in targets}
    years = set(county["year"])
    out: dict[str, float] = {}
    for name in names:
        if name == "attainment_score":
            scores = [target_score(t, float(lookup.get((t.indicator, t.year), math.nan)))[2]
                      for t in targets if t.year in years]
            out[name] = float(np.mean(scores)) if scores else math.nan
            continue
        m = _OUTPUT.match(name)
        ind, year = m["ind"], int(m["year"])
        if ind not in indicators:
            raise KeyError(f"output {name!r}: indicator {ind!r} is not in the model's timeseries")
        value = float(lookup.get((ind, year), math.nan))
        if m["suffix"]:
            met, gap, _ = target_score(by_key[(ind, year)], value)
            out[name] = met if m["suffix"] == "_met" else gap
        else:
            out[name] = value
    return out


# ------------------------------------------------------------------------------ evaluation
def _county_run(task: tuple) -> dict[str, float]:
    """One county run (top level, so worker processes can unpickle it)."""
    from urban_sim.data.tables import load_county_cached
    from urban_sim.runs.single import simulate
    from urban_sim.targets import load_targets

    scenario, seed, replicate, names = task
    data = load_county_cached(scenario.data_dir)
    return county_outputs(simulate(scenario, seed, replicate, data),
                          load_targets(data.plan_targets), names)


def base_scenario(exp: Experiment) -> Scenario:
    """The experiment's base scenario with its scale and year overrides."""
    return load_scenario(exp.scenario_path(), {"scale": exp.scale, "start_year": exp.start_year,
                                               "end_year": exp.end_year})


def point_overrides(base: dict[str, Any], values: dict[str, float]) -> dict[str, float]:
    """Dotted overrides of one design point, with task-area shares renormalised.

    Parameters
    ----------
    base : dict
        The base scenario as a dict (``Scenario.model_dump()``).
    values : dict
        Factor values by dotted path.

    Notes
    -----
    When some ``...task_area_shares.<area>`` are factors, the other areas keep their base
    proportions and are scaled to fill ``1 - sum(sampled shares)``. If the sampled shares sum
    to more than 1, or every area is sampled, all eight are divided by their total (the sampled
    values then act as relative weights).
    """
    over = dict(values)
    parents: dict[str, list[str]] = {}
    for key in values:
        parent, _, leaf = key.rpartition(".")
        if parent.endswith("task_area_shares"):
            parents.setdefault(parent, []).append(leaf)
    for parent, leaves in parents.items():
        node: Any = base
        for k in parent.split("."):
            node = node[k]
        shares = {a: float(values.get(f"{parent}.{a}", v)) for a, v in node.items()}
        sampled = sum(shares[a] for a in leaves)
        others = sum(v for a, v in shares.items() if a not in leaves)
        if others > 0 and sampled <= 1:
            scaled = {a: (v if a in leaves else v * (1 - sampled) / others) for a, v in shares.items()}
        else:
            total = sampled + others
            scaled = {a: v / total for a, v in shares.items()} if total > 0 else shares
        over.update({f"{parent}.{a}": v for a, v in scaled.items()})
    return over


def _run_id(*parts: Any) -> str:
    from urban_sim.runs.ensemble import code_version  # covers the installed code (C19)

    text = json.dumps([code_version(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def evaluate(exp: Experiment, design: Design, *, model: ModelFn | None = None,
             executor: Executor | None = None, progress: bool = False) -> pd.DataFrame:
    """Run the model at every design point (and replicate).

    Parameters
    ----------
    exp : Experiment
    design : Design
    model : callable, optional
        Python model ``f(values) -> outputs`` (DataFrames with one row per point), used instead
        of ``exp.model``; deterministic, run once per point.
    executor : Executor, optional
        Where county runs are computed (default: in this process).
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``point, replicate, run_id``, the factor values, then one column per
        output. Rows sorted by point and replicate.

    Raises
    ------
    ConfigError
        A design point gives an invalid scenario (the message names the factor path).
    ExperimentError
        Runs failed (count and first error).
    """
    values = design.values
    head = pd.DataFrame({"point": np.arange(design.n_points), "replicate": 0})
    if model is None and exp.model == "python":
        raise ExperimentError("model 'python' needs a callable (run_sensitivity(..., model=f))")
    if model is not None or exp.model != "county":
        if model is None:
            X = values.to_numpy()
            opts = exp.model_options
            y = (ishigami(X, a=opts.get("a", 7.0), b=opts.get("b", 0.1)) if exp.model == "ishigami"
                 else sobol_g(X, opts.get("a")))
            outputs = pd.DataFrame({"y": y})
        else:
            outputs = pd.DataFrame(model(values.copy())).reset_index(drop=True)
            if len(outputs) != len(values):
                raise ExperimentError(f"model returned {len(outputs)} rows for {len(values)} points")
        ids = [_run_id(exp.model if model is None else getattr(model, "__name__", "python"),
                       row) for row in values.to_numpy().tolist()]
        head["run_id"] = ids
        return pd.concat([head, values, outputs.astype(float)], axis=1)

    base = base_scenario(exp)
    from urban_sim.data.tables import data_fingerprint, load_county
    from urban_sim.targets import load_targets

    targets = load_targets(load_county(base.data_dir).plan_targets)
    names = exp.outputs or default_outputs(targets, base.start_year, base.end_year)
    check_outputs(names, targets, base.start_year, base.end_year)
    check_factor_ranges(exp, design)
    raw = base.model_dump(mode="json")
    scenarios = []
    for i, row in enumerate(values.to_dict("records")):
        try:
            scenarios.append(with_overrides(base, point_overrides(raw, row)))
        except ConfigError as exc:
            raise ConfigError(f"design point {i} ({_fmt_row(row)}): {exc}") from None
    seeds = replicate_seeds(exp.seed, exp.replicates)
    tasks = [(sc, seeds[k], k, names) for sc in scenarios for k in range(exp.replicates)]
    data_id = data_fingerprint(base.data_dir)
    run_ids = [_run_id(sc.model_dump(mode="json"), data_id, seeds[k].entropy, list(seeds[k].spawn_key))
               for sc, _, k, _ in tasks]
    results: list[Any] = [None] * len(tasks)
    executor = executor or SequentialExecutor()
    from urban_sim.runs.progress import progress as progress_bar  # plain lines in logs (C16)

    bar = progress_bar(len(tasks), desc=exp.name) if progress else None
    try:
        for i, res in executor.imap(_county_run, tasks):
            results[i] = res
            if bar:
                bar.update()
    finally:
        if bar:
            bar.close()
    failed = [(i, r) for i, r in enumerate(results) if isinstance(r, Failed)]
    if failed:
        i, first = failed[0]
        raise ExperimentError(f"{len(failed)} of {len(tasks)} runs failed; first: run "
                              f"{run_ids[i]} ({_fmt_row(values.iloc[i // exp.replicates])}): "
                              f"{first.error}")
    frame = pd.DataFrame({
        "point": np.repeat(np.arange(design.n_points), exp.replicates),
        "replicate": np.tile(np.arange(exp.replicates), design.n_points),
        "run_id": run_ids,
    })
    vals = values.loc[frame["point"]].reset_index(drop=True)
    return pd.concat([frame, vals, pd.DataFrame(results, columns=names)], axis=1)


def _fmt_row(row) -> str:
    items = row.items() if hasattr(row, "items") else row
    return ", ".join(f"{k}={v:.4g}" for k, v in items)


# ------------------------------------------------------------------------------ analysis
@dataclass
class SensitivityResult:
    """Indices and diagnostics of one experiment.

    Attributes
    ----------
    indices : pandas.DataFrame or None
        Sobol: ``output, factor, kind, factor_kind, S1, S1_conf, ST, ST_conf`` (+ ``S2_<f>``,
        ``S2_conf_<f>``), ``flag``. Raw estimates, never clipped.
    morris : pandas.DataFrame or None
        ``output, factor, kind, factor_kind, mu, mu_star, mu_star_conf, sigma, flag``.
    noise : pandas.DataFrame
        ``output, total_variance, seed_variance, seed_noise_share`` (replicates ≥ 2).
    convergence : pandas.DataFrame or None
        ``output, factor, ST_half, ST, abs_change`` (Sobol, indices at N/2 vs N).
    warnings : list of str
    meta : dict
    """

    indices: pd.DataFrame | None
    morris: pd.DataFrame | None
    noise: pd.DataFrame
    convergence: pd.DataFrame | None
    warnings: list[str]
    meta: dict


def output_columns(runs: pd.DataFrame, design: Design) -> list[str]:
    """Output columns of a runs table (everything after the factor columns)."""
    skip = {"point", "replicate", "run_id", *design.values.columns}
    return [c for c in runs.columns if c not in skip]


def check_nan(runs: pd.DataFrame, outputs: list[str], factor_names: list[str],
              policy: str, notes: list[str], meta: dict) -> pd.DataFrame:
    """Stop on NaN outputs (policy ``fail``) or impute them with the output mean.

    Raises
    ------
    ExperimentError
        Policy ``fail`` and some run has a NaN or infinite output: the message gives how many
        runs, their run ids and factor values. Rows are never dropped (that would break the
        pairing of Saltelli rows).
    """
    Y = runs[outputs].to_numpy(dtype=float)
    bad = ~np.isfinite(Y)
    if not bad.any():
        return runs
    bad_runs = np.flatnonzero(bad.any(axis=1))
    per_output = {o: int(n) for o, n in zip(outputs, bad.sum(axis=0), strict=True) if n}
    if policy == "fail":
        shown = "; ".join(
            f"{runs['run_id'].iat[i]} ({_fmt_row(runs.iloc[i][factor_names])})"
            for i in bad_runs[:20])
        more = f"; ... {len(bad_runs) - 20} more" if len(bad_runs) > 20 else ""
        raise ExperimentError(
            f"{len(bad_runs)} of {len(runs)} runs returned NaN or inf "
            f"({', '.join(f'{o}: {n}' for o, n in per_output.items())}); no indices computed. "
            f"Runs: {shown}{more}. Set 'nan_policy: impute_mean' to replace them by the output "
            "mean (recorded in the metadata)")
    runs = runs.copy()
    for j, o in enumerate(outputs):
        if bad[:, j].all():
            raise ExperimentError(f"output {o!r}: every run returned NaN; nothing to impute")
        if bad[:, j].any():
            runs.loc[bad[:, j], o] = float(np.mean(Y[~bad[:, j], j]))
    meta["imputed"] = per_output
    _warn(notes, f"nan_policy impute_mean: {len(bad_runs)} of {len(runs)} runs had NaN outputs, "
                 f"replaced by the output mean ({per_output})")
    return runs


def noise_table(runs: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """Share of each output's run-to-run variance due to seed noise.

    Notes
    -----
    ``seed_noise_share = mean_i Var_k(y_ik) / Var_ik(y_ik)``: mean within-point variance over
    replicates k, divided by the variance over all runs (both with ddof = 0, so that the share
    is the part of the run-to-run variance not explained by the design point, in [0, 1]).
    Needs ≥ 2 replicates; 0 when the output is constant.
    """
    rows = []
    for o in outputs:
        total = float(runs[o].var(ddof=0))
        within = float(runs.groupby("point")[o].var(ddof=0).mean())
        share = within / total if not is_constant(runs[o].to_numpy(float)) else 0.0
        rows.append({"output": o, "total_variance": total, "seed_variance": within,
                     "seed_noise_share": share})
    return pd.DataFrame(rows)


NOISE_SHARE = 0.25
"""Share of seed noise in the variance of replicate means above which an output is flagged."""


def noisy_outputs(noise: pd.DataFrame, means: np.ndarray, outputs: list[str],
                  replicates: int) -> list[str]:
    """Outputs whose replicate means are dominated by seed noise.

    The noise variance of a mean over ``replicates`` runs is ``seed_variance / replicates``;
    an output is noisy when that is at least :data:`NOISE_SHARE` of the variance of the means
    over the design points (then Sobol and Morris estimates mostly measure noise).
    Needs ≥ 2 replicates (otherwise returns an empty list); constant outputs are never noisy.
    """
    if replicates < 2 or noise.empty:
        return []
    var_means = pd.Series(np.var(means, axis=0), index=outputs)
    seed = noise.set_index("output")["seed_variance"] / replicates
    share = seed / var_means.where(var_means > 0)
    return [o for o in outputs if share.get(o, 0) >= NOISE_SHARE]


def is_constant(y: np.ndarray) -> bool:
    """Whether ``y`` has no variance beyond round-off (sd ≤ 1e-12 (1 + |mean|))."""
    return float(np.std(y)) <= CONSTANT_RTOL * (1 + abs(float(np.mean(y))))


def _kinds(exp: Experiment, names: list[str], grouped: bool) -> list[str]:
    by_name = {f.name: f.kind for f in exp.varied}
    if not grouped:
        return [by_name[n] for n in names]
    out = []
    for g in names:
        kinds = {f.kind for f in exp.varied if (f.group or f.name) == g}
        out.append(kinds.pop() if len(kinds) == 1 else "mixed")
    return out


def _group_labels(problem: dict) -> list[str]:
    if not problem.get("groups"):
        return list(problem["names"])
    return list(dict.fromkeys(problem["groups"]))


def sobol_table(problem: dict, Y: np.ndarray, outputs: list[str], *, N: int, second_order: bool,
                num_resamples: int, seed: int, kind: str, factor_kinds: list[str],
                notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Sobol indices of every output column of ``Y`` (shape (n_rows, n_outputs)).

    Returns
    -------
    table : pandas.DataFrame
    constant : list of str
        Outputs with no variance (their rows are 0 with flag ``output constant``).

    Raises
    ------
    ExperimentError
        If the row count does not match ``N`` and ``second_order`` (expected vs actual).
    """
    labels = _group_labels(problem)
    D = len(labels)
    expected = sobol_rows(N, D, second_order)
    if Y.shape[0] != expected:
        raise ExperimentError(
            f"the sample has {Y.shape[0]} rows, but Sobol analysis with second_order="
            f"{second_order} and N={N}, D={D} needs {expected}")
    rows, constant = [], []
    for j, out in enumerate(outputs):
        y = Y[:, j]
        base = {"output": out, "kind": kind}
        if is_constant(y):
            constant.append(out)
            for lab, fk in zip(labels, factor_kinds, strict=True):
                row = {**base, "factor": lab, "factor_kind": fk, "S1": 0.0, "S1_conf": 0.0,
                       "ST": 0.0, "ST_conf": 0.0, "flag": "output constant"}
                if second_order:
                    row.update({f"S2_{o}": 0.0 for o in labels})
                    row.update({f"S2_conf_{o}": 0.0 for o in labels})
                rows.append(row)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            S = sobol_analyze.analyze(problem, y, calc_second_order=second_order,
                                      num_resamples=num_resamples, conf_level=0.95, seed=seed)
        for i, (lab, fk) in enumerate(zip(labels, factor_kinds, strict=True)):
            row = {**base, "factor": lab, "factor_kind": fk}
            for k in ("S1", "S1_conf", "ST", "ST_conf"):
                row[k] = float(S[k][i])
            if second_order:
                row.update({f"S2_{o}": float(S["S2"][i, m]) for m, o in enumerate(labels)})
                row.update({f"S2_conf_{o}": float(S["S2_conf"][i, m]) for m, o in enumerate(labels)})
            flags = [f"{k} not distinguishable from 0" for k in ("ST", "S1")
                     if row[k] - row[f"{k}_conf"] <= 0 <= row[k] + row[f"{k}_conf"]]
            row["flag"] = "; ".join(flags)
            rows.append(row)
    table = pd.DataFrame(rows)
    first = ["output", "factor", "kind", "factor_kind"]
    table = table[first + [c for c in table.columns if c not in first and c != "flag"] + ["flag"]]
    num = table.select_dtypes("number")
    table[num.columns] = num.where(np.isfinite(num), 0.0)  # SALib gives NaN S2 on the diagonal
    return table, constant


def analyse(exp: Experiment, design: Design, runs: pd.DataFrame, *,
            second_order: bool | None = None, notes: list[str] | None = None) -> SensitivityResult:
    """Sensitivity indices from a design and its runs.

    Parameters
    ----------
    exp : Experiment
    design : Design
        Its ``meta['second_order']`` (how the sample was drawn) is used.
    runs : pandas.DataFrame
        From :func:`evaluate`.
    second_order : bool, optional
        Must agree with the sample's metadata.
    notes : list of str, optional
        Warnings collected so far (appended to).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    ExperimentError
        NaN outputs (policy ``fail``); a ``second_order`` that contradicts the sample, with the
        expected and actual row counts.
    """
    notes = [] if notes is None else notes
    meta = dict(design.meta)
    so = bool(meta["second_order"])
    if exp.method == "sobol" and second_order is not None and second_order != so:
        rows = meta["design_rows"]["factors"]
        raise ExperimentError(
            f"second_order={second_order} contradicts the saved sample: it needs "
            f"{sobol_rows(meta['N'], meta['D'], second_order)} rows (N={meta['N']}, "
            f"D={meta['D']}) but the sample has {rows} rows, drawn with second_order={so}")
    outputs = output_columns(runs, design)
    names = [f.name for f in exp.varied]
    runs = check_nan(runs, outputs, names, exp.nan_policy, notes, meta)
    means = runs.groupby("point", sort=True)[outputs].mean().to_numpy()
    noise = noise_table(runs, outputs) if meta["replicates"] > 1 else pd.DataFrame(
        columns=["output", "total_variance", "seed_variance", "seed_noise_share"])
    indices = morris = convergence = None
    if exp.method == "sobol":
        tables, constant = [], []
        for key, problem in design.problems.items():
            grouped = key == "groups"
            labels = _group_labels(problem)
            t, const = sobol_table(problem, means[design.rows[key]], outputs, N=exp.N,
                                   second_order=so, num_resamples=exp.num_resamples,
                                   seed=exp.seed, kind="group" if grouped else "factor",
                                   factor_kinds=_kinds(exp, labels, grouped), notes=notes)
            tables.append(t)
            constant = constant or const
        indices = pd.concat(tables, ignore_index=True)
        convergence = _convergence(exp, design, means, outputs, so, notes)
        varying = indices[(indices["kind"] == "factor") & (indices["flag"] != "output constant")]
        spans = varying["flag"].str.contains("ST not distinguishable").sum()
        if len(varying) and spans > 0.5 * len(varying):
            _warn(notes, f"{spans} of {len(varying)} total-order (ST) confidence intervals include "
                         f"0 at N = {exp.N}: these factors are not distinguishable from 0; "
                         f"increase N (e.g. N: {4 * exp.N}) if they matter")
    else:
        key, problem = next(iter(design.problems.items()))
        labels = _group_labels(problem)
        morris, constant = _morris_table(exp, problem, design.unit[design.rows[key]],
                                         means[design.rows[key]], outputs,
                                         _kinds(exp, labels, key == "groups"))
    if constant:
        _warn(notes, f"{len(constant)} output(s) constant over the design (indices set to 0, "
                     f"flag 'output constant'): {', '.join(constant)}")
    noisy = noisy_outputs(noise, means, outputs, meta["replicates"])
    if noisy:
        for table in (indices, morris):
            if table is not None:
                hit = table["output"].isin(noisy) & (table["flag"] != "output constant")
                table.loc[hit, "flag"] = [
                    "; ".join(filter(None, (f, "dominated by seed noise")))
                    for f in table.loc[hit, "flag"]]
        _warn(notes, f"seed noise is ≥ {NOISE_SHARE:.0%} of the variance of the replicate means for "
                     f"{len(noisy)} output(s) (flag 'dominated by seed noise'): {', '.join(noisy)}; "
                     "their indices are unreliable (values above 1 are possible): increase "
                     "replicates or scale")
    meta["warnings"] = notes
    return SensitivityResult(indices, morris, noise, convergence, notes, meta)


def _convergence(exp: Experiment, design: Design, means: np.ndarray, outputs: list[str],
                 so: bool, notes: list[str]) -> pd.DataFrame | None:
    """Total indices on the first N/2 base rows versus all N (ungrouped design)."""
    half = exp.N // 2
    if half < 2:
        return None
    problem = design.problems["factors"]
    step = sobol_rows(1, problem["num_vars"], so)
    Y = means[design.rows["factors"]]
    rows = []
    for j, out in enumerate(outputs):
        if is_constant(Y[:, j]) or is_constant(Y[:half * step, j]):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            full = sobol_analyze.analyze(problem, Y[:, j], calc_second_order=so,
                                         num_resamples=10, seed=exp.seed)["ST"]
            part = sobol_analyze.analyze(problem, Y[:half * step, j], calc_second_order=so,
                                         num_resamples=10, seed=exp.seed)["ST"]
        for name, a, b in zip(problem["names"], part, full, strict=True):
            rows.append({"output": out, "factor": name, "ST_half": float(a), "ST": float(b),
                         "abs_change": float(abs(a - b))})
    table = pd.DataFrame(rows, columns=["output", "factor", "ST_half", "ST", "abs_change"])
    if table.empty:
        return table
    worst = table.groupby("output")["abs_change"].max()
    top_changed = [o for o, g in table.groupby("output")
                   if g["ST_half"].idxmax() != g["ST"].idxmax()
                   and g["ST"].max() - g.loc[g["ST_half"].idxmax(), "ST"] > exp.convergence_tolerance]
    bad = sorted(set(worst[worst > exp.convergence_tolerance].index) | set(top_changed))
    if bad:
        _warn(notes, f"indices have not settled for {len(bad)} output(s): ST changes by more than "
                     f"{exp.convergence_tolerance} between N/2 = {half} and N = {exp.N} "
                     f"({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}); increase N")
    return table


def _morris_table(exp, problem, X, Y, outputs, factor_kinds):
    labels = _group_labels(problem)
    rows, constant = [], []
    for j, out in enumerate(outputs):
        y = Y[:, j]
        if is_constant(y):
            constant.append(out)
            rows += [{"output": out, "factor": lab, "kind": "factor", "factor_kind": fk, "mu": 0.0,
                      "mu_star": 0.0, "mu_star_conf": 0.0, "sigma": 0.0, "flag": "output constant"}
                     for lab, fk in zip(labels, factor_kinds, strict=True)]
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            S = morris_analyze.analyze(problem, X, y, num_resamples=exp.num_resamples,
                                       conf_level=0.95, num_levels=exp.morris.levels,
                                       seed=exp.seed)
        for i, (lab, fk) in enumerate(zip(labels, factor_kinds, strict=True)):
            rows.append({"output": out, "factor": lab,
                         "kind": "group" if problem.get("groups") else "factor",
                         "factor_kind": fk, "mu": float(S["mu"][i]),
                         "mu_star": float(S["mu_star"][i]),
                         "mu_star_conf": float(S["mu_star_conf"][i]),
                         "sigma": float(S["sigma"][i]),
                         "flag": "" if S["mu_star"][i] > S["mu_star_conf"][i]
                         else "not distinguishable from 0"})
    table = pd.DataFrame(rows)
    num = table.select_dtypes("number")
    table[num.columns] = num.where(np.isfinite(num), 0.0)
    return table, constant


# ------------------------------------------------------------------------------ whole run
def estimate_seconds_per_run(exp: Experiment) -> float:
    """Seconds of one model run: measured once for the county model (at the experiment's
    scale and years, data already loaded), a nominal 1 µs for analytic models."""
    if exp.model != "county":
        return 1e-6
    from urban_sim.data.tables import load_county
    from urban_sim.runs.single import simulate

    base = base_scenario(exp)
    data = load_county(base.data_dir)
    seed = replicate_seeds(exp.seed, 1)[0]
    simulate(base, seed, 0, data)  # warm-up (imports, caches)
    start = time.perf_counter()
    simulate(base, seed, 0, data)
    return time.perf_counter() - start


def check_factor_ranges(exp: Experiment, design: Design) -> None:
    """Check that every factor path exists and that the design's smallest and largest values
    give valid scenarios (schema ranges and parameters.csv ranges), before anything runs.

    Raises
    ------
    ConfigError
        Naming the experiment file, the factor values and the scenario key at fault.
    """
    from urban_sim.model.county import check_scenario

    if not len(design.values):
        return
    base = base_scenario(exp)
    raw = base.model_dump(mode="json")
    for row in (design.values.min().to_dict(), design.values.max().to_dict()):
        try:
            check_scenario(with_overrides(base, point_overrides(raw, row)))
        except ConfigError as exc:
            raise ConfigError(f"{exp._source or exp.name}: factor values {_fmt_row(row)}: {exc}") from None


def dry_run(exp: Experiment, *, workers: int = 1, second_order: bool | None = None) -> str:
    """Text giving the number of model runs and an estimated wall time; runs nothing else."""
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SensitivityWarning)
        design = make_design(exp, second_order=second_order, notes=notes)
    m = design.meta
    if exp.model == "county":
        check_factor_ranges(exp, design)
    per_run = estimate_seconds_per_run(exp)
    overhead = 1.0 if exp.model != "county" or workers == 1 else 1.15
    seconds = m["n_runs"] * per_run / max(workers, 1) * overhead
    rows = ", ".join(f"{k} {v}" for k, v in m["design_rows"].items())
    lines = [
        f"{exp.name}: {exp.method}, {m['D']} varied factor(s)"
        + (f", {len(m['fixed'])} fixed" if m["fixed"] else "")
        + (f", second order" if exp.method == "sobol" and m["second_order"] else ""),
        f"design rows: {rows}; unique design points {m['n_points']} x {m['replicates']} "
        f"replicate(s) = {m['n_runs']} model runs",
        f"estimated time: {_fmt_seconds(seconds)} on {workers} worker(s) "
        + (f"({per_run:.3f} s per run, measured)" if exp.model == "county" else "(analytic model)"),
    ]
    return "\n".join(lines + [f"warning: {n}" for n in notes])


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def run_sensitivity(exp: Experiment, out: str | Path | None = None, *,
                    model: ModelFn | None = None, executor: Executor | None = None,
                    second_order: bool | None = None, progress: bool = False) -> SensitivityResult:
    """Design, evaluate, analyse and (with ``out``) write the output folder.

    Parameters
    ----------
    exp : Experiment
    out : path, optional
        Output folder; nothing is written when None.
    model : callable, optional
        Python model used instead of ``exp.model`` (see :func:`evaluate`).
    executor : Executor, optional
    second_order : bool, optional
        Override of ``exp.second_order`` for the design.
    progress : bool

    Raises
    ------
    ExperimentError, ConfigError
        See :func:`evaluate` and :func:`analyse`. On NaN outputs the sample and runs are
        written, but no index table.
    """
    start = time.perf_counter()
    notes: list[str] = []
    design = make_design(exp, second_order=second_order, notes=notes)
    runs = evaluate(exp, design, model=model, executor=executor, progress=progress)
    if out is not None:
        write_design(out, exp, design, runs)
    result = analyse(exp, design, runs, notes=notes)
    result.meta["wall_seconds"] = round(time.perf_counter() - start, 3)
    if out is not None:
        write_results(out, exp, design, result)
    return result


def reanalyse(out: str | Path, *, second_order: bool | None = None) -> SensitivityResult:
    """Analyse the sample and runs already saved in ``out`` (and rewrite the results).

    Raises
    ------
    ExperimentError
        Missing files, or a ``second_order`` contradicting the saved sample.
    """
    out = Path(out)
    for name in ("sample.json", "sample.parquet", "runs.parquet"):
        if not (out / name).is_file():
            raise ExperimentError(f"{out / name}: not found; run the experiment first")
    meta = json.loads((out / "sample.json").read_text(encoding="utf-8"))
    exp = Experiment.model_validate(meta["experiment_config"])
    sample = pd.read_parquet(out / "sample.parquet")
    points = sample.drop_duplicates("point").sort_values("point")
    unit = points[[f"unit:{n}" for n in meta["factors"]]].to_numpy()
    values = points[[f.name for f in exp.factors]].reset_index(drop=True)
    rows = {k: g.sort_values("row")["point"].to_numpy() for k, g in sample.groupby("design")}
    design_meta = {k: v for k, v in meta.items() if k != "experiment_config"}
    design = Design(unit, values, rows, meta["problems"], design_meta)
    result = analyse(exp, design, pd.read_parquet(out / "runs.parquet"), second_order=second_order)
    write_results(out, exp, design, result)
    return result


# ------------------------------------------------------------------------------ writing
def write_design(out: str | Path, exp: Experiment, design: Design, runs: pd.DataFrame) -> None:
    """Write ``sample.parquet`` (every design row: design, row, point, unit and factor values),
    ``sample.json`` (metadata) and ``runs.parquet`` (one row per run with its run id)."""
    from urban_sim import __version__

    out = Path(out)
    frames = []
    for key, pts in design.rows.items():
        f = pd.DataFrame({"design": key, "row": np.arange(len(pts)), "point": pts})
        unit = pd.DataFrame(design.unit[pts], columns=[f"unit:{n}" for n in design.meta["factors"]])
        frames.append(pd.concat([f, unit, design.values.iloc[pts].reset_index(drop=True)], axis=1))
    write_table(out / "sample.parquet", pd.concat(frames, ignore_index=True))
    meta = {**design.meta, "package_version": __version__, "problems": design.problems,
            "experiment_config": exp.model_dump(mode="json")}
    write_text(out / "sample.json", json.dumps(meta, indent=2, ensure_ascii=False))
    write_table(out / "runs.parquet", runs)


def write_results(out: str | Path, exp: Experiment, design: Design,
                  result: SensitivityResult) -> None:
    """Write index tables, noise and convergence tables, figures and ``report.html``."""
    out = Path(out)
    if result.indices is not None:
        write_table(out / "indices.csv", result.indices)
    if result.morris is not None:
        write_table(out / "morris.csv", result.morris)
    write_table(out / "noise.csv", result.noise)
    if result.convergence is not None:
        write_table(out / "convergence.csv", result.convergence)
    figures = report_figures(exp, result)
    for name, png in figures.items():
        atomic_write(out / "figures" / f"{name}.png", lambda p, b=png: p.write_bytes(b))
    write_text(out / "analysis.json", json.dumps(result.meta, indent=2, ensure_ascii=False,
                                                  default=str))
    write_text(out / "report.html", report_html(exp, result, figures))


# ------------------------------------------------------------------------------ report
def _label(name: str) -> str:
    """Short display label of a dotted factor path (its last two parts)."""
    return ".".join(name.split(".")[-2:])


def target_outputs(outputs: list[str], year: int | None = None) -> list[str]:
    """Outputs that are plan-target values (those with a ``_met`` companion), optionally of
    one year."""
    out = []
    for o in outputs:
        m = _OUTPUT.match(o)
        if m and not m["suffix"] and f"{o}_met" in outputs and (year is None or int(m["year"]) == year):
            out.append(o)
    return out


def _key_outputs(outputs: list[str]) -> list[str]:
    keys = target_outputs(outputs)
    keys += [o for o in outputs if o == "attainment_score"]
    return keys or list(outputs)


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def report_figures(exp: Experiment, result: SensitivityResult) -> dict[str, bytes]:
    """PNG figures: a heat map of ST (or normalised Morris mu_star), factors x target outputs,
    and a bar chart of the composite score's indices with their intervals.

    Negative estimates are drawn as 0 (clipped for drawing only; the CSV keeps raw values).
    """
    from matplotlib.figure import Figure

    if result.indices is not None:
        table, value, conf, title = result.indices, "ST", "ST_conf", "total-order index ST"
    else:
        table, value, conf, title = result.morris, "mu_star", "mu_star_conf", "Morris mu_star"
    table = table[table["kind"] == "factor"] if (table["kind"] == "factor").any() else table
    outputs = list(dict.fromkeys(table["output"]))
    keys = _key_outputs(outputs)
    factors = list(dict.fromkeys(table["factor"]))
    heat = table.pivot(index="factor", columns="output", values=value).loc[factors, keys]
    if value == "mu_star":
        heat = heat / heat.max(axis=0).replace(0, 1)
        title += " (scaled to the largest per output)"
    figs: dict[str, bytes] = {}
    fig = Figure(figsize=(max(5.0, 0.32 * len(keys) + 3.5), max(3.0, 0.32 * len(factors) + 1.8)))
    ax = fig.add_subplot()
    im = ax.imshow(heat.clip(0, 1).to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(factors)), [_label(f) for f in factors], fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label=f"{value} (clipped to [0, 1] for drawing)")
    figs["ranking_heatmap"] = _png(fig)

    comp = "attainment_score" if "attainment_score" in outputs else outputs[0]
    sub = table[table["output"] == comp].set_index("factor").loc[factors]
    fig = Figure(figsize=(max(5.0, 0.45 * len(factors) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(factors))
    bars = [("S1", "S1_conf"), ("ST", "ST_conf")] if value == "ST" else [(value, conf)]
    width = 0.8 / len(bars)
    for k, (v, c) in enumerate(bars):
        h = sub[v].clip(lower=0).to_numpy(float)
        lo = np.minimum(sub[c].to_numpy(float), h)  # an interval never reaches below 0 here
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, h, width, yerr=[lo, sub[c].to_numpy(float)],
               capsize=2, label=v)
    ax.set_xticks(x, [_label(f) for f in factors], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("index (95 % CI; negatives drawn as 0)")
    ax.set_title(f"{comp}: {title}", fontsize=9)
    ax.legend(fontsize=7)
    figs["composite_bars"] = _png(fig)
    return figs


def _top_rows(table: pd.DataFrame, outputs: list[str], value: str, conf: str,
              kind: str | None, n: int = 3) -> list[list[str]]:
    rows = []
    for o in outputs:
        sub = table[table["output"] == o]
        if kind:
            sub = sub[sub["factor_kind"] == kind]
        if sub.empty:
            continue
        if (sub["flag"] == "output constant").all():
            rows.append([o, "output constant (no variance over the design)"])
            continue
        top = sub.sort_values(value, ascending=False).head(n)
        cells = [f"{_label(r.factor)}: {getattr(r, value):.3f} "
                 f"[{getattr(r, value) - getattr(r, conf):.3f}, {getattr(r, value) + getattr(r, conf):.3f}]"
                 + (" *" if "not distinguishable" in r.flag else "")
                 for r in top.itertuples()]
        rows.append([o, "; ".join(cells)])
    return rows


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    import html

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def report_html(exp: Experiment, result: SensitivityResult, figures: dict[str, bytes]) -> str:
    """Self-contained HTML report (figures embedded as base64 PNG).

    For every 2027 (and 2025) target: the levers with the largest total index (Sobol ST) or
    mu_star (Morris), with 95 % intervals; fixed factors; warnings; seed-noise shares;
    metadata.
    """
    import base64
    import html

    m = result.meta
    sobol = result.indices is not None
    table = result.indices if sobol else result.morris
    value, conf = ("ST", "ST_conf") if sobol else ("mu_star", "mu_star_conf")
    factors = table[table["kind"] == "factor"]
    outputs = list(dict.fromkeys(table["output"]))
    parts = [f"<h1>Sensitivity analysis: {html.escape(exp.name)}</h1>",
             f"<p>{html.escape(exp.description)}</p>"]
    meta_rows = [["model", exp.model], ["scenario", exp.scenario or "-"], ["method", exp.method],
                 ["N" if sobol else "trajectories", exp.N if sobol else exp.morris.trajectories],
                 ["varied factors D", m["D"]], ["second order", m["second_order"]],
                 ["grouped", bool(m.get("groups"))], ["replicates per point", m["replicates"]],
                 ["design points", m["n_points"]], ["model runs", m["n_runs"]],
                 ["seed", m["seed"]], ["scale", exp.scale or "scenario's"],
                 ["years", f"{exp.start_year or 'scenario'} -> {exp.end_year or 'scenario'}"],
                 ["nan_policy", m["nan_policy"]], ["wall seconds", m.get("wall_seconds", "-")]]
    parts += ["<h2>Metadata</h2>", _html_table(["item", "value"], meta_rows)]
    parts.append("<h2>Warnings</h2>")
    parts.append("<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings) + "</ul>"
                 if result.warnings else "<p>none</p>")
    if exp.fixed:
        parts += ["<h2>Fixed factors (empty range, not sampled)</h2>",
                  "<ul>" + "".join(f"<li>{html.escape(k)} fixed = {v:g}</li>"
                                   for k, v in exp.fixed.items()) + "</ul>"]
    what = "total-order index ST" if sobol else "Morris mu_star"
    note = ("Values are estimate [95 % interval]; * = interval includes 0 "
            "(not distinguishable from 0).")
    for year in (2027, 2025):
        targets = target_outputs(outputs, year)
        if targets:
            parts += [f"<h2>{year} targets: levers with the largest {what}</h2><p>{note}</p>",
                      _html_table(["target output", "top levers"],
                                  _top_rows(factors, targets, value, conf, "lever")),
                      f"<h3>{year} targets: largest uncertainties</h3>",
                      _html_table(["target output", "top uncertainties"],
                                  _top_rows(factors, targets, value, conf, "uncertainty"))]
    others = [o for o in outputs if o not in target_outputs(outputs) and
              not o.endswith(("_met", "_shortfall"))]
    parts += [f"<h2>Composite score, headline and other outputs: largest {what}</h2><p>{note}</p>",
              _html_table(["output", "top factors"], _top_rows(factors, others, value, conf, None, 5))]
    groups = table[table["kind"] == "group"]
    if len(groups):
        keys = _key_outputs(outputs)
        parts += [f"<h2>Groups (task areas): largest {what}</h2>",
                  _html_table(["output", "top groups"], _top_rows(groups, keys, value, conf, None))]
    if len(result.noise):
        nz = result.noise.sort_values("seed_noise_share", ascending=False)
        nz = nz[nz["output"].isin(_key_outputs(outputs) + [o for o in others])]
        parts += ["<h2>Seed noise</h2><p>Share of each output's run-to-run variance that is due "
                  "to the random seed (mean within-point variance over replicates / total "
                  "variance); the indices use the replicate means.</p>",
                  _html_table(["output", "seed noise share"],
                              [[r.output, f"{r.seed_noise_share:.3f}"] for r in nz.itertuples()])]
    else:
        parts.append("<h2>Seed noise</h2><p>Not estimated (one replicate per design point or a "
                     "deterministic model).</p>")
    if result.convergence is not None and len(result.convergence):
        worst = result.convergence.groupby("output")["abs_change"].max().sort_values(ascending=False)
        parts += [f"<h2>Convergence (ST at N/2 vs N)</h2><p>Largest change per output; tolerance "
                  f"{exp.convergence_tolerance}.</p>",
                  _html_table(["output", "max |ST(N) - ST(N/2)|"],
                              [[o, f"{v:.3f}"] for o, v in worst.head(15).items()])]
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<h2>{html.escape(name)}</h2><img alt="{name}" src="data:image/png;base64,{data}">')
    parts.append("<p>Files: sample.parquet, sample.json, runs.parquet, "
                 + ("indices.csv, convergence.csv" if sobol else "morris.csv")
                 + ", noise.csv, analysis.json, figures/.</p>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:left}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(exp.name)}"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
