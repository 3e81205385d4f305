"""The sensitivity workflow: scenario of each design point, runs, indices, saved tables.

Pipeline::

    design = make_design(exp)                     # Saltelli (Sobol') or Morris sample
    runs = evaluate(exp, design, executor=ex)     # one row per model run, outputs as columns
    result = analyse(exp, design, runs)           # S1/ST (+S2) with CIs, or mu_star/sigma
    save_results(out, exp, design, result)        # tables; reports.sensitivity writes the report
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from urban_sim.analysis.analytic_models import ishigami, sobol_g
from urban_sim.analysis.sensitivity.design import Design, SensitivityWarning, _fmt_row, make_design
from urban_sim.analysis.sensitivity.indices import SensitivityResult, analyse
from urban_sim.analysis.sensitivity.outputs import (
    ScalarOutput, county_outputs, declare_outputs, outputs_table,
)
from urban_sim.config.experiment import Experiment
from urban_sim.config.loader import load_scenario, with_overrides
from urban_sim.config.schema import Scenario
from urban_sim.errors import ConfigError, ExperimentError
from urban_sim.runs.executors import Executor, SequentialExecutor
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.files import write_table, write_text


ModelFn = Callable[[pd.DataFrame], pd.DataFrame]
"""A Python model: factor values (one row per design point) -> outputs (same rows)."""

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
    over = _amounts_to_shares(base, dict(values))
    values = dict(over)
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


AMOUNTS = "investment.amount_million_yuan"
"""Pseudo-path of a task area's own investment amount: ``policy.investment.amount_million_yuan.<area>``."""


def _amounts_to_shares(base: dict[str, Any], values: dict[str, float]) -> dict[str, float]:
    """Turn task-area amounts (``<block>.investment.amount_million_yuan.<area>``, million yuan per
    year) into the scenario's total and shares.

    Each area not sampled keeps its base amount (base total x base share); the total is the sum
    of the eight amounts and each share is amount / total, so every area's amount is its own
    factor and areas are not confounded through a renormalisation.

    Raises
    ------
    ConfigError
        An unknown task area, or shares given together with amounts for the same block.
    """
    blocks: dict[str, dict[str, float]] = {}
    for key in list(values):
        head, sep, area = key.rpartition(".")
        if head.endswith(AMOUNTS):
            blocks.setdefault(head[: -len(AMOUNTS) - 1], {})[area] = float(values.pop(key))
    for block, amounts in blocks.items():
        inv = base
        for k in (*block.split("."), "investment"):
            inv = inv[k]
        shares = inv["task_area_shares"]
        unknown = sorted(set(amounts) - set(shares))
        if unknown:
            raise ConfigError(f"{block}.{AMOUNTS}.{unknown[0]}: unknown task area; allowed: "
                              f"{', '.join(shares)}")
        if any(k.startswith(f"{block}.investment.task_area_shares.") for k in values):
            raise ConfigError(f"{block}: sample either task-area amounts ({AMOUNTS}) or shares "
                              "(task_area_shares), not both")
        full = {a: amounts.get(a, inv["total_million_yuan"] * s) for a, s in shares.items()}
        total = sum(full.values())
        values[f"{block}.investment.total_million_yuan"] = total
        values.update({f"{block}.investment.task_area_shares.{a}": (v / total if total else 0.0)
                       for a, v in full.items()})
    return values


def _run_id(*parts: Any) -> str:
    from urban_sim.runs.ensemble import code_version  # covers the installed code (C19)

    text = json.dumps([code_version(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def evaluate(exp: Experiment, design: Design, *, model: ModelFn | None = None,
             executor: Executor | None = None, progress: bool = False,
             store_dir: str | Path | None = None) -> pd.DataFrame:
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
    store_dir : path, optional
        Where finished county runs are kept for resuming (see :func:`run_points`).

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
    from urban_sim.data.tables import load_county
    from urban_sim.targets import load_targets

    targets = load_targets(load_county(base.data_dir).plan_targets)
    declared = declare_outputs(targets, base.start_year, base.end_year, exp.outputs)
    check_factor_ranges(exp, design)
    design.meta["outputs"] = outputs_table(declared).to_dict("records")
    return run_points(base, values, declared, replicates=exp.replicates, seed=exp.seed,
                      executor=executor, store_dir=store_dir, progress=progress)


def run_points(base: Scenario, values: pd.DataFrame, outputs: list[ScalarOutput], *,
               replicates: int,
               seed: int, executor: Executor | None = None, store_dir: str | Path | None = None,
               progress: bool = False) -> pd.DataFrame:
    """Run the county model at every row of ``values`` (dotted overrides of ``base``) through the
    ensemble runner, and reduce each run to the scalar outputs ``names``.

    Replicate ``k`` of every point uses the same seed (common random numbers). Every finished
    run is stored under ``store_dir`` (``runs/<run_id>.parquet``) as soon as it ends, so an
    interrupted design resumes without redoing finished runs; without ``store_dir`` a temporary
    folder is used.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``point, replicate, run_id``, the factor values, one column per output.

    Raises
    ------
    ConfigError
        A point gives an invalid scenario (the message names the point and its values).
    ExperimentError
        Runs failed (count and first error; the failure records are in ``store_dir/failed``).
    """
    import tempfile

    from urban_sim.data.tables import load_county_cached
    from urban_sim.runs.ensemble import plan_runs, run_ensemble
    from urban_sim.runs.store import ResultsStore
    from urban_sim.targets import load_targets

    raw = base.model_dump(mode="json")
    scenarios = []
    for i, row in enumerate(values.to_dict("records")):
        try:
            scenarios.append(with_overrides(base, point_overrides(raw, row)))
        except ConfigError as exc:
            raise ConfigError(f"design point {i} ({_fmt_row(row)}): {exc}") from None
    specs = plan_runs(scenarios, replicates, seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(store_dir if store_dir is not None else tmp)
        result = run_ensemble(specs, store, executor or SequentialExecutor(), progress=progress)
        if result.n_failed or result.failures:
            first = result.failures[0]
            raise ExperimentError(
                f"{len(result.failures)} of {len(specs)} runs failed (records in "
                f"{store.root / 'failed'}); first: run {first['run_id']}: {first['error']}")
        ts = result.timeseries
    targets = load_targets(load_county_cached(base.data_dir).plan_targets)
    county = ts[ts["place"] == "county"]
    names = [o.name for o in outputs]
    by_run = {rid: county_outputs(g, targets, outputs)
              for rid, g in county.groupby("run_id", sort=False)}
    frame = pd.DataFrame({
        "point": np.repeat(np.arange(len(values)), replicates),
        "replicate": np.tile(np.arange(replicates), len(values)),
        "run_id": [s.run_id for s in specs],
    })
    vals = values.loc[frame["point"]].reset_index(drop=True)
    outs = pd.DataFrame([by_run[r] for r in frame["run_id"]], columns=names)
    return pd.concat([frame, vals, outs], axis=1)


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
    runs = evaluate(exp, design, model=model, executor=executor, progress=progress,
                    store_dir=None if out is None else Path(out) / "store")
    if out is not None:
        write_design(out, exp, design, runs)
    result = analyse(exp, design, runs, notes=notes)
    result.meta["wall_seconds"] = round(time.perf_counter() - start, 3)
    if out is not None:
        save_results(out, result)
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
    check_saved_design(out, exp, design)
    result = analyse(exp, design, pd.read_parquet(out / "runs.parquet"), second_order=second_order)
    save_results(out, result)
    return result


def check_saved_design(out: Path, exp: Experiment, saved: Design) -> None:
    """Check that a saved sample is the design its metadata implies: the design redrawn from
    the saved experiment (method, N, seed, factors, second order) must have the same rows, unit
    values and factor values.

    Raises
    ------
    ExperimentError
        Naming the first design and row that differ.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SensitivityWarning)
        expected = make_design(exp, second_order=saved.meta["second_order"])
    where = f"{out / 'sample.parquet'}: not the design its metadata (sample.json) implies"
    if set(expected.rows) != set(saved.rows):
        raise ExperimentError(f"{where}: designs {sorted(saved.rows)}, expected {sorted(expected.rows)}")
    for key, pts in expected.rows.items():
        got = saved.rows[key]
        if len(got) != len(pts):
            raise ExperimentError(f"{where}: design {key!r} has {len(got)} rows, expected {len(pts)}")
        a, b = expected.unit[pts], saved.unit[got]
        bad = np.flatnonzero(~np.isclose(a, b, rtol=0, atol=1e-9).all(axis=1))
        if len(bad):
            raise ExperimentError(f"{where}: design {key!r} row {bad[0]} differs "
                                  f"({len(bad)} of {len(pts)} rows); rerun without --reuse")


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


def save_results(out: str | Path, result: SensitivityResult) -> None:
    """Write the index tables (``indices.csv`` or ``morris.csv``), ``noise.csv``,
    ``convergence.csv`` and ``analysis.json``; the report is written by
    :func:`urban_sim.reports.sensitivity.write_report`."""
    out = Path(out)
    if result.indices is not None:
        write_table(out / "indices.csv", result.indices)
    if result.morris is not None:
        write_table(out / "morris.csv", result.morris)
    write_table(out / "noise.csv", result.noise)
    if result.convergence is not None:
        write_table(out / "convergence.csv", result.convergence)
    write_text(out / "analysis.json", json.dumps(result.meta, indent=2, ensure_ascii=False,
                                                  default=str))
