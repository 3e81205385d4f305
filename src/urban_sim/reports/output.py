"""The output folder of ``urban-sim run`` (interfaces.md): manifest, resolved scenario,
timeseries (Parquet and CSV), targets, figures and summary."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from urban_sim.config.loader import dump_scenario
from urban_sim.config.schema import Scenario
from urban_sim.experiments.runner import RunSet
from urban_sim.experiments.seeds import describe_seed
from urban_sim.experiments.store import write_table, write_text
from urban_sim.reports.figures import write_figures
from urban_sim.reports.summary import write_summary

_PACKAGES = ("urban_sim", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "matplotlib")


def git_commit() -> str | None:
    """Commit of the source tree the package runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def versions() -> dict[str, str | None]:
    """Versions of Python and the key packages."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def config_hash(scenario: Scenario) -> str:
    """sha256 of the resolved scenario (YAML dump)."""
    return hashlib.sha256(dump_scenario(scenario).encode("utf-8")).hexdigest()


def write_run_folder(out_dir: str | Path, scenario: Scenario, result: RunSet, *,
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
        "versions": versions(),
        "git_commit": git_commit(),
        "config_sha256": config_hash(scenario),
        "seed": scenario.seed,
        "replicate_seeds": [describe_seed(s) for s in result.seeds],
        "n_replicates": len(result.seeds),
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
    write_table(out / "targets.csv", result.targets[cols])
    figures = write_figures(result.timeseries, result.targets, out, lang=lang)
    write_summary(result.timeseries, result.targets, manifest, out / "summary.md", figure_paths=figures)
    write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return out
