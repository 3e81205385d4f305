"""Sensitivity indices from a design and its runs: Sobol S1/ST (+S2), Morris mu_star/sigma,
seed noise, convergence (N/2 vs N), with guards for NaN, constant and noisy outputs.

References
----------
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Computer Physics
Communications 181, 259-270.
Herman, J. and Usher, W. (2017). SALib: an open-source Python library for sensitivity analysis.
JOSS 2(9), 97.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze

from urban_sim.analysis.sensitivity.design import Design, _fmt_row, _warn, sobol_rows
from urban_sim.config.experiment import Experiment
from urban_sim.errors import ExperimentError

CONSTANT_RTOL = 1e-12
"""An output is constant when its standard deviation is ≤ 1e-12 (1 + |mean|)."""

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
    """Morris mu, mu_star (with interval) and sigma per factor or group.

    ``kind`` is ``group`` only for a group with two or more members. For such a group sigma is
    undefined (SALib returns NaN: the elementary effects of a group move several factors at
    once, so their spread is not a factor's interaction measure); it is left empty (NaN) and
    the flag says why.
    """
    labels = _group_labels(problem)
    groups = problem.get("groups") or list(problem["names"])
    members = {g: groups.count(g) for g in labels}
    kinds = ["group" if members[lab] > 1 else "factor" for lab in labels]
    rows, constant = [], []
    for j, out in enumerate(outputs):
        y = Y[:, j]
        if is_constant(y):
            constant.append(out)
            rows += [{"output": out, "factor": lab, "kind": k, "factor_kind": fk, "mu": 0.0,
                      "mu_star": 0.0, "mu_star_conf": 0.0,
                      "sigma": np.nan if k == "group" else 0.0, "flag": "output constant"}
                     for lab, k, fk in zip(labels, kinds, factor_kinds, strict=True)]
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            S = morris_analyze.analyze(problem, X, y, num_resamples=exp.num_resamples,
                                       conf_level=0.95, num_levels=exp.morris.levels,
                                       seed=exp.seed)
        for i, (lab, k, fk) in enumerate(zip(labels, kinds, factor_kinds, strict=True)):
            flags = [] if S["mu_star"][i] > S["mu_star_conf"][i] else ["not distinguishable from 0"]
            if k == "group":
                flags.append("sigma undefined for a group of several factors")
            rows.append({"output": out, "factor": lab, "kind": k, "factor_kind": fk,
                         "mu": float(S["mu"][i]), "mu_star": float(S["mu_star"][i]),
                         "mu_star_conf": float(S["mu_star_conf"][i]),
                         "sigma": np.nan if k == "group" else float(S["sigma"][i]),
                         "flag": "; ".join(flags)})
    table = pd.DataFrame(rows)
    num = table.select_dtypes("number").drop(columns=["sigma"])
    table[num.columns] = num.where(np.isfinite(num), 0.0)
    return table, constant
