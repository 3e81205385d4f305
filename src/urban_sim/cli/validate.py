"""``urban-sim validate``: check scenario files, experiment files or data folders; no run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urban_sim.config.loader import SHIPPED_EXPERIMENTS, shipped_or_path
from urban_sim.errors import UrbanSimError


def validate(files: Annotated[list[Path], typer.Argument(
        help="Scenario files, experiment files (sensitivity, calibration) or data folders.")]) -> None:
    """Check files without running anything; every file is checked, each problem on its line."""
    from urban_sim.calibration.experiment import load_experiment as load_calibration
    from urban_sim.config import load_scenario, read_mapping
    from urban_sim.config.experiment import load_experiment as load_sensitivity
    from urban_sim.data import load_county
    from urban_sim.data.tables import check_folder_sources
    from urban_sim.model.county import check_scenario
    from urban_sim.services.childcare import Childcare

    failed = 0
    for f in files:
        f = shipped_or_path(shipped_or_path(f), SHIPPED_EXPERIMENTS)  # a shipped file's name
        try:
            if f.is_dir():
                load_county(f)
                check_folder_sources(f)  # also the tables load_county does not read
                Childcare(f)  # childcare.csv: values against their units
                kind = "data folder"
            else:
                keys = read_mapping(f)
                if "factors" in keys:
                    load_sensitivity(f)
                    kind = "sensitivity experiment"
                elif "observations" in keys or keys.get("method") in ("msm", "abc"):
                    load_calibration(f)
                    kind = "calibration experiment"
                else:
                    check_scenario(load_scenario(f))
                    kind = "scenario"
            typer.echo(f"{f}: {kind} OK")
        except UrbanSimError as exc:
            failed += 1
            typer.echo(f"error: {exc}", err=True)
    if failed:
        raise typer.Exit(2)
