"""The output folder of ``urban-sim run`` (interfaces.md): manifest, resolved scenario,
timeseries (Parquet and CSV), targets, figures and summary."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from urban_sim.config.loader import dump_scenario
from urban_sim.config.schema import Scenario
from urban_sim.runs.ensemble import EnsembleResult, code_version
from urban_sim.files import git_commit, git_dirty, versions, write_table, write_text
from urban_sim.reports.figures import write_figures
from urban_sim.reports.summary import write_summary


def config_hash(scenario: Scenario) -> str:
    """sha256 of the resolved scenario (YAML dump)."""
    return hashlib.sha256(dump_scenario(scenario).encode("utf-8")).hexdigest()


def write_run_folder(out_dir: str | Path, scenario: Scenario, result: EnsembleResult, *,
                     started: dt.datetime, lang: str = "en") -> Path:
    """Write every output file of a run into ``out_dir`` (each file atomically).

    Returns
    -------
    Path
        The output folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "scenario": scenario.name,
        "scenario_file": scenario._source,
        "versions": versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "code_version": code_version(),
        "config_sha256": config_hash(scenario),
        "seed": scenario.seed,
        "replicate_seeds": result.seeds,
        "n_replicates": len(result.seeds),
        # each replicate draws one posterior particle from its own seed
        "n_parameter_draws": len(result.seeds) if scenario.parameters_from == "posterior" else 0,
        "run_ids": result.run_ids,
        "n_failed": result.n_failed,
        "n_resumed": result.n_skipped,
        "start_year": scenario.start_year,
        "end_year": scenario.end_year,
        "scale": scenario.scale,
        "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(result.wall_seconds, 3),
    }
    write_text(out / "scenario.resolved.yaml", dump_scenario(scenario))
    write_table(out / "timeseries.parquet", result.timeseries)
    write_table(out / "timeseries.csv", result.timeseries)
    cols = ["indicator", "year", "operator", "target", "target_high", "value", "met"]
    if len(result.seeds) > 1:
        cols += ["mean", "p05", "p95", "p_met"]
    # honest targets (issue 10): the flag and, for capped ratios, the uncapped ratio and its split
    cols += [c for c in ("decided_before_policy", "uncapped", "investment_effect",
                         "population_effect") if c in result.targets.columns]
    write_table(out / "targets.csv", result.targets[cols])
    write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _run_reports(out, scenario, result.timeseries, result.targets, manifest, lang)
    return out


def _run_reports(out: Path, scenario: Scenario, ts, target_rows, manifest: dict, lang: str) -> Path:
    """summary.md (English key numbers and target rows) and report.html / report.md in ``lang``."""
    from urban_sim.data.tables import load_county_cached
    from urban_sim.reports.run_report import write_run_report
    from urban_sim.targets import scenario_targets

    data = load_county_cached(scenario.data_dir)
    figures = write_figures(ts, target_rows, out, lang=lang)
    write_summary(ts, target_rows, manifest, out / "summary.md", figure_paths=figures)
    write_run_report(out, ts, scenario_targets(scenario, data), manifest, lang=lang,
                     plan=data.plan_targets, data_dir=scenario.data_dir)
    return out / "report.html"


def write_compare_folder(out_dir: str | Path, scenarios: list[Scenario], result, baseline: str,
                         master_seed: int, *, started: dt.datetime, lang: str = "en",
                         engine: str = "processes") -> Path:
    """Write the output folder of ``compare``: manifest, resolved scenarios, timeseries,
    comparison report."""
    import yaml

    from urban_sim.data.tables import load_county
    from urban_sim.runs.single import TS_COLUMNS
    from urban_sim.reports.compare import write_compare_report
    from urban_sim.targets import scenario_targets

    out = Path(out_dir)
    ts = result.timeseries[TS_COLUMNS]
    for sc in scenarios:
        write_text(out / "scenarios" / f"{sc.name}.resolved.yaml", dump_scenario(sc))
    write_table(out / "timeseries.parquet", ts)
    write_table(out / "timeseries.csv", ts)
    manifest = {
        "command": "compare", "scenarios": [s.name for s in scenarios], "baseline": baseline,
        "years": f"{scenarios[0].start_year}-{scenarios[0].end_year}",  # one span for all
        "versions": versions(), "git_commit": git_commit(), "git_dirty": git_dirty(),
        "code_version": code_version(),
        "config_sha256": {s.name: config_hash(s) for s in scenarios},
        "seed": master_seed, "replicate_seeds": result.seeds,
        "n_replicates": len(result.seeds), "n_runs": len(result.specs),
        # each replicate draws one posterior particle from its own seed, the same in every
        # scenario (common random numbers pair the draws too)
        "n_parameter_draws": (len(result.seeds) if any(s.parameters_from == "posterior"
                                                       for s in scenarios) else 0),
        "n_succeeded": len(result.specs) - len(result.failures), "n_failed": len(result.failures),
        "n_resumed": result.n_skipped, "engine": engine,
        "scale": scenarios[0].scale, "start_year": scenarios[0].start_year,
        "end_year": scenarios[0].end_year,
        "run_ids": {s.run_id: [s.scenario.name, s.replicate] for s in result.specs},
        "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(result.wall_seconds, 3),
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    resolved = {s.name: yaml.safe_load(dump_scenario(s)) for s in scenarios}
    data = load_county(scenarios[0].data_dir)
    write_compare_report(out, ts, scenario_targets(scenarios[0], data), resolved, baseline, manifest,
                         lang=lang, plan=data.plan_targets, data_dir=scenarios[0].data_dir)
    return out


def rebuild_report(folder: str | Path, *, lang: str = "en") -> Path:
    """Rebuild the report of a finished ``run`` or ``compare`` folder from its stored files.

    Raises
    ------
    ExperimentError
        If the folder has no ``manifest.json`` or ``timeseries.parquet``.
    """
    import pandas as pd
    import yaml

    from urban_sim.config.loader import load_scenario
    from urban_sim.data.tables import load_county
    from urban_sim.errors import ExperimentError
    from urban_sim.runs.runner import target_table
    from urban_sim.reports.compare import write_compare_report
    from urban_sim.targets import load_targets, scenario_targets

    folder = Path(folder)
    if not (folder / "manifest.json").is_file() or not (folder / "timeseries.parquet").is_file():
        raise ExperimentError(f"{folder}: not an output folder of run or compare "
                              "(manifest.json and timeseries.parquet needed)")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    ts = pd.read_parquet(folder / "timeseries.parquet")
    if manifest.get("command") == "compare":
        resolved = {n: yaml.safe_load((folder / "scenarios" / f"{n}.resolved.yaml").read_text(encoding="utf-8"))
                    for n in manifest["scenarios"]}
        data_dir = next(iter(resolved.values())).get("data_dir")
        data = load_county(data_dir)
        start = next(iter(resolved.values())).get("policy", {}).get("start_year")
        targets = load_targets(data.plan_targets, programmes=data.programmes, policy_start_year=start)
        for key in ("scale", "start_year", "end_year"):  # folders written before these were kept
            manifest.setdefault(key, next(iter(resolved.values())).get(key))
        write_compare_report(folder, ts, targets, resolved, manifest["baseline"], manifest,
                             lang=lang, plan=data.plan_targets, data_dir=data_dir)
        return folder / "report.html"
    sc = load_scenario(folder / "scenario.resolved.yaml")
    targets = target_table(scenario_targets(sc, load_county(sc.data_dir)), ts)
    return _run_reports(folder, sc, ts, targets, manifest, lang)
