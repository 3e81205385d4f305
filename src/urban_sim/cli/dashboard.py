"""``urban-sim dashboard``: the browser dashboard (solara) for what-if runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import check_lang, user_errors
from urban_sim.errors import UrbanSimError


def dashboard(
    scenario: Annotated[str, typer.Argument(help="Scenario file or shipped scenario name.")] = "plan",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the local web server.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")]
    = "127.0.0.1",
    lang: o.Lang = "en",
) -> None:
    """Start the browser dashboard: sliders for levers and task-area budgets, a what-if run at
    scale 0.1 on every change, and a button that saves a full ensemble as an output folder.

    Needs the optional dependencies: pip install "urban_sim[dashboard]".
    """
    with user_errors():
        check_lang(lang)
        try:
            import solara  # noqa: F401
        except ImportError:
            raise UrbanSimError('the dashboard needs solara: pip install "urban_sim[dashboard]"') from None
        from urban_sim.config import load_scenario

        path = Path(scenario)
        name = str(path.resolve()) if path.is_file() else scenario
        load_scenario(name)  # a bad scenario is an error here, not in the browser
        env = {**os.environ, "URBAN_SIM_DASHBOARD_SCENARIO": name, "URBAN_SIM_DASHBOARD_LANG": lang}
        typer.echo(f"dashboard of {scenario} at http://{host}:{port} (Ctrl-C stops it)", err=True)
        cmd = [sys.executable, "-m", "solara", "run", "urban_sim.dashboard.app", "--port", str(port),
               "--host", host, "--production"]
        raise typer.Exit(subprocess.call(cmd, env=env))
