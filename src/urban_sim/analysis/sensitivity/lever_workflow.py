"""The steps of a lever analysis: checks, scenarios, real runs or emulator, indices, ranking,
PRIM, saved tables. Statistics in :mod:`.levers`; runs go through the ensemble runner
(:func:`.workflow.run_points`), so an interrupted study resumes without redoing finished runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

from urban_sim.analysis.sensitivity.checks import choose_replicates, choose_scale
from urban_sim.analysis.sensitivity.design import _warn
from urban_sim.analysis.sensitivity.discovery import discover
from urban_sim.analysis.sensitivity.emulator import Emulator
from urban_sim.analysis.sensitivity.levers import (
    YEAR, LeverStudy, _conditions, _display, _top3, convergence_table, draw_scenarios,
    lever_outputs, posterior_units, prim_outcomes, rank_levers, read_posterior_file,
    scenario_tables,
)
from urban_sim.analysis.sensitivity.outputs import ScalarOutput
from urban_sim.analysis.sensitivity.workflow import base_scenario, check_factor_ranges, run_points
from urban_sim.config.experiment import Experiment
from urban_sim.config.loader import with_overrides
from urban_sim.errors import ConfigError
from urban_sim.files import write_table, write_text
from urban_sim.runs.executors import Executor


def _outputs_table(outputs: list[ScalarOutput], targets, varies: set[str]) -> pd.DataFrame:
    """What the report needs about each output: catalogue unit and labels, the plan's wording,
    target operator and values, whether it varies over the design."""
    from urban_sim.model.outputs import OUTPUTS, label

    by_key = {(t.indicator, t.year): t for t in targets}
    rows = []
    for o in outputs:
        if o.stat == "met":
            continue
        t = by_key.get((o.indicator, o.year))
        factor, unit = _display(o)
        known = o.indicator in OUTPUTS
        rows.append({
            "name": o.name, "indicator": o.indicator or o.name, "year": o.year, "stat": o.stat,
            "is_target": o.is_target, "unit": unit, "display_factor": factor,
            "label_en": label(o.indicator, "en") if known else f"targets of {o.year} met",
            "label_zh": label(o.indicator, "zh") if known else f"{o.year}年达标目标数",
            "operator": t.operator if t else "", "target": t.target if t else np.nan,
            "target_high": t.target_high if t else np.nan, "varies": o.name in varies})
    return pd.DataFrame(rows)


def run_lever_study(exp: Experiment, out: str | Path | None = None, *,
                    executor: Executor | None = None, progress: bool = False) -> LeverStudy:
    """Run the lever analysis of ``exp`` (an experiment with ``scenarios``) and, with ``out``,
    save its tables (``lever_ranking.csv`` etc., see ``docs/sensitivity.md``).

    Raises
    ------
    ConfigError
        The experiment does not simulate to 2027, or a factor value gives an invalid scenario.
    ExperimentError
        Runs failed.
    """
    from urban_sim.data.tables import load_county
    from urban_sim.targets import load_targets

    start = time.perf_counter()
    notes: list[str] = []
    base = base_scenario(exp)
    if base.end_year < YEAR:
        raise ConfigError(f"{exp._source or exp.name}: a lever analysis ranks the {YEAR} targets; "
                          f"end_year is {base.end_year}, use end_year: {YEAR} or later")
    targets = load_targets(load_county(base.data_dir).plan_targets)
    outputs = lever_outputs(targets)
    store = None if out is None else Path(out) / "store"
    n_runs = {"checks": 0, "design": 0, "confirmation": 0}

    def run(sc, values, outs, replicates, key="design"):
        n_runs[key] += len(values) * replicates
        return run_points(sc, values, outs, replicates=replicates, seed=exp.seed,
                          executor=executor, store_dir=store, progress=progress)

    checks: dict = {"scale": exp.scale or base.scale, "replicates": exp.replicates}
    if exp.checks:
        headline = [o for o in outputs if o.stat == "value" and not o.is_target]
        scale, checks["scale_table"] = choose_scale(
            exp, base, headline, lambda *a: run(*a, key="checks"))
        base = with_overrides(base, {"scale": scale})
        reps, checks["replicate_table"] = choose_replicates(
            exp, base, outputs, lambda *a: run(*a, key="checks"))
        checks.update(scale=scale, replicates=reps)
        short = checks["replicate_table"]
        over = short[short["replicates_needed"] > reps]["output"].tolist()
        if over:
            _warn(notes, f"{len(over)} output(s) need more than {reps} replicates to keep seed "
                         f"noise below {exp.checks.noise_share:.0%} of their variance: "
                         f"{', '.join(over)}")
    R = checks["replicates"]
    scen = draw_scenarios(exp)
    conds = _conditions(scen)
    levers, unc = exp.levers, exp.uncertainties
    names = [f.name for f in levers]
    check_factor_ranges(exp, _Bounds(exp))
    value_names = [o.name for o in outputs if o.stat != "met"]
    cv = confirmation = None
    r2: dict[str, float] = {}
    if exp.emulator:
        em = exp.emulator
        dims = levers + unc
        U = qmc.LatinHypercube(d=len(dims), seed=exp.seed).random(em.train_points)
        values = pd.DataFrame({f.name: f.ppf(np.clip(U[:, j], 1e-12, 1 - 1e-12))
                               for j, f in enumerate(dims)})
        post_cols, lo, width = [], 0.0, 1.0
        if exp.scenarios.posterior:
            # the posterior parameters are emulator inputs too: each training point runs one
            # weighted particle, each scenario is predicted at its own particle
            pnames, particles, w = read_posterior_file(exp)
            lo, width = posterior_units(particles)
            pick = np.random.default_rng(exp.seed).choice(len(w), size=em.train_points, p=w)
            post_cols = [f"parameters.{c}" for c in pnames]
            for j, c in enumerate(post_cols):
                values[c] = particles[pick, j]
            U = np.column_stack([U, (particles[pick] - lo) / width])
        runs = run(base, values, outputs, R)
        means = runs.groupby("point")[value_names].mean()
        emu = Emulator(exp.seed).fit(U, means)
        cv = emu.cross_validate(U, means, em.cv_folds)
        r2 = dict(zip(cv["output"], cv["r2"], strict=True))
        seed_sd = (runs.groupby("point")[value_names].std(ddof=1).pow(2).mean().pow(0.5).to_dict()
                   if R > 1 else dict(zip(cv["output"], cv["rmse"], strict=True)))
        cols = [f"unit:{f.name}" for f in unc]

        def predict(srow, Ul, V):
            cond = srow[cols].to_numpy(float)
            if post_cols:
                cond = np.concatenate([cond, (srow[post_cols].to_numpy(float) - lo) / width])
            X = np.column_stack([Ul, np.tile(cond, (len(Ul), 1))])
            return emu.predict(X)

        prim_runs = runs
        bad = cv[~cv["reliable"]]["output"].tolist()
        if bad:
            _warn(notes, f"emulator cross-validated R² below 0.8 for {len(bad)} output(s) (their "
                         f"indices are unreliable): {', '.join(bad)}")
    else:
        seed_sd = {}
        pooled = []

        def predict(srow, Ul, V):
            vals = V.copy()
            for c in conds:
                vals[c] = srow[c]
            r = run(base, vals, outputs, R)
            pooled.append(r)
            return r.groupby("point")[[o.name for o in outputs]].mean().reset_index(drop=True)

    per, top3 = scenario_tables(exp, outputs, targets, scen, predict, seed_sd, N=exp.N)
    if exp.emulator and exp.emulator.confirm_N >= 2:
        real = []

        def real_predict(srow, Ul, V):
            vals = V.copy()
            for c in conds:
                vals[c] = srow[c]
            r = run(base, vals, outputs, R, key="confirmation")
            real.append(r)
            return r.groupby("point")[[o.name for o in outputs]].mean().reset_index(drop=True)

        real_per, _ = scenario_tables(exp, outputs, targets, scen.iloc[:1], real_predict, {},
                                      N=exp.emulator.confirm_N)
        confirmation = _confirm(per[per["scenario"] == 0], real_per)
    if not exp.emulator:
        prim_runs = pd.concat(pooled, ignore_index=True)
    conv = convergence_table(top3)
    settled = conv.groupby("output")["settled"].all().to_dict() if len(conv) else {}
    ranking = rank_levers(per, outputs, levers, len(scen), settled, r2)
    for o, ok in settled.items():
        if not ok:
            notes.append(f"{o}: top three levers differ between N/2 = {exp.N // 2} and N = "
                         f"{exp.N} in some scenario (not settled)")
    x = prim_runs[[c for c in names + [f.name for f in unc] + conds if c in prim_runs]]
    x = x.loc[:, ~x.columns.duplicated()]
    prim = discover(x, prim_outcomes(prim_runs, outputs), threshold=exp.prim.threshold,
                    peel_alpha=exp.prim.peel_alpha, mass_min=exp.prim.mass_min)
    varies = set(per["output"])
    table = _outputs_table(outputs, targets, varies)
    meta = {"experiment": exp.name, "N": exp.N, "levers": names, "uncertainties": [f.name for f in unc],
            "n_scenarios": len(scen), "scale": checks["scale"], "replicates": R,
            "emulator": exp.emulator.model_dump() if exp.emulator else None,
            "n_runs": n_runs, "n_runs_total": sum(n_runs.values()),
            "wall_seconds": round(time.perf_counter() - start, 1), "warnings": notes,
            "year": YEAR}
    study = LeverStudy(ranking, per, scen, table, prim, conv, cv, confirmation, checks, notes, meta)
    if out is not None:
        save_lever_study(out, exp, study)
    return study


class _Bounds:
    """Stand-in design holding each factor's smallest and largest value (for the range check)."""

    def __init__(self, exp: Experiment) -> None:
        lo = {f.name: f.bounds[0] for f in exp.varied}
        hi = {f.name: f.bounds[1] for f in exp.varied}
        self.values = pd.DataFrame([lo, hi])


def _confirm(emulated: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Top three levers per output on the emulator vs on real runs (first scenario)."""
    rows = []
    for o, g in emulated.groupby("output", sort=False):
        r = real[real["output"] == o]
        if r.empty:
            continue
        a = _top3(g["ST"].to_numpy(), g["lever"].tolist())
        b = _top3(r["ST"].to_numpy(), r["lever"].tolist())
        rows.append({"output": o, "top3_emulator": "; ".join(a), "top3_real": "; ".join(b),
                     "same_set": set(a) == set(b), "overlap": len(set(a) & set(b)),
                     "same_first": a[0] == b[0]})
    return pd.DataFrame(rows, columns=["output", "top3_emulator", "top3_real", "same_set",
                                       "overlap", "same_first"])


def save_lever_study(out: str | Path, exp: Experiment, study: LeverStudy) -> None:
    """Write ``lever_ranking.csv``, ``lever_scenarios.csv``, ``scenarios.csv``, ``outputs.csv``,
    ``prim.csv``, ``convergence.csv``, ``emulator_cv.csv``, ``confirmation.csv``,
    ``scale_check.csv``, ``replicate_check.csv`` and ``analysis.json``."""
    out = Path(out)
    write_table(out / "lever_ranking.csv", study.ranking)
    write_table(out / "lever_scenarios.csv", study.per_scenario)
    write_table(out / "scenarios.csv", study.scenarios)
    write_table(out / "outputs.csv", study.outputs)
    write_table(out / "prim.csv", study.prim)
    write_table(out / "convergence.csv", study.convergence)
    for name, t in (("emulator_cv", study.emulator_cv), ("confirmation", study.confirmation),
                    ("scale_check", study.checks.get("scale_table")),
                    ("replicate_check", study.checks.get("replicate_table"))):
        if t is not None:
            write_table(out / f"{name}.csv", t)
    meta = {**study.meta, "experiment_config": exp.model_dump(mode="json"),
            "checks": {k: v for k, v in study.checks.items() if not k.endswith("_table")}}
    write_text(out / "analysis.json", json.dumps(meta, indent=2, ensure_ascii=False, default=str))


def load_lever_study(out: str | Path) -> tuple[Experiment, LeverStudy]:
    """Read a saved lever study back (for ``urban-sim report DIR``)."""
    out = Path(out)
    meta = json.loads((out / "analysis.json").read_text(encoding="utf-8"))
    exp = Experiment.model_validate(meta["experiment_config"])

    def opt(name):
        p = out / f"{name}.csv"
        return pd.read_csv(p) if p.is_file() else None

    checks = {**meta.get("checks", {}), "scale_table": opt("scale_check"),
              "replicate_table": opt("replicate_check")}
    study = LeverStudy(pd.read_csv(out / "lever_ranking.csv"), pd.read_csv(out / "lever_scenarios.csv"),
                       pd.read_csv(out / "scenarios.csv"), pd.read_csv(out / "outputs.csv"),
                       pd.read_csv(out / "prim.csv").fillna({"box": "", "note": ""}),
                       pd.read_csv(out / "convergence.csv"), opt("emulator_cv"),
                       opt("confirmation"), checks, meta.get("warnings", []), meta)
    return exp, study


def lever_dry_run(exp: Experiment, *, workers: int = 1) -> str:
    """Text giving the real runs of a lever study and an estimated wall time; runs one model
    run to time it, nothing else."""
    from urban_sim.analysis.sensitivity.workflow import _fmt_seconds, estimate_seconds_per_run

    check_factor_ranges(exp, _Bounds(exp))
    draw_scenarios(exp)
    L, n = len(exp.levers), exp.scenarios.n
    R = exp.replicates if exp.checks is None else f"chosen by the checks (<= {exp.checks.max_replicates})"
    reps = exp.replicates if exp.checks is None else exp.checks.max_replicates
    if exp.emulator:
        em = exp.emulator
        points = em.train_points + em.confirm_N * (L + 2)
        what = (f"emulator: {em.train_points} training points + real confirmation design "
                f"{em.confirm_N} x ({L} + 2) points; Sobol sums on the emulator: "
                f"{n} scenarios x {exp.N} x ({L} + 2) predictions")
    else:
        points = n * exp.N * (L + 2)
        what = f"{n} scenarios x N {exp.N} x ({L} + 2) points"
    per = estimate_seconds_per_run(exp)
    secs = points * reps * per / max(workers, 1) * 1.15
    return "\n".join([
        f"{exp.name}: lever analysis, {L} levers, {len(exp.uncertainties)} uncertainties, "
        f"{n} scenarios",
        f"{what}; replicates {R}",
        f"real runs: at most {points * reps} (+ checks); estimated time "
        f"{_fmt_seconds(secs)} on {workers} worker(s) ({per:.3f} s per run, measured)"])
