"""``urban-sim calibrate``: calibrate behavioural parameters. No numerics here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from urban_sim.cli import options as o
from urban_sim.cli.common import check_lang, out_dir, user_errors
from urban_sim.config.loader import SHIPPED_EXPERIMENTS, shipped_or_path


def calibrate(
    experiment: Annotated[Path, typer.Argument(
        help="Calibration experiment file (YAML) or a shipped experiment's name.")],
    out: o.Out = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=256, help="Worker processes (default: the experiment's).")] = None,
    fresh: o.Fresh = False,
    lang: o.Lang = "en",
) -> None:
    """Calibrate behavioural parameters against census observations."""
    from urban_sim.calibration.base import bound_note
    from urban_sim.calibration.experiment import load_experiment
    from urban_sim.calibration.workflow import run_calibration
    from urban_sim.reports.calibration import write_report

    experiment = shipped_or_path(experiment, SHIPPED_EXPERIMENTS)
    with user_errors():
        check_lang(lang)
        setup = load_experiment(experiment, workers=workers)
        exp = setup.experiment
        out = out_dir(out or Path("results") / exp.name, fresh, "calibrate",
                      {"experiment": exp.model_dump(mode="json")})
        free = [n for n, (lo, hi) in setup.bounds.items() if lo < hi]
        typer.echo(f"calibrating {exp.name} ({exp.method}): {', '.join(free)}; start "
                   f"{exp.start_year}, scale {exp.scale}, {exp.replicates} replicate(s), "
                   f"{exp.workers} worker(s)", err=True)
        result = run_calibration(setup, out, progress=True)
        write_report(result.out_dir, lang=lang)
    s = result.summary
    notes = {k: bound_note(v, *setup.bounds[k]) for k, v in result.calibrator.params_.items()}
    values = ", ".join(f"{k}={v:.4g}" + (f" ({notes[k]})" if notes[k] else "")
                       for k, v in result.calibrator.params_.items())
    for k, note in notes.items():
        if note:
            typer.echo(f"warning: {k} = {result.calibrator.params_[k]:.4g} is {note}: the bound, "
                       "not the data, decided it; widen the bounds or question the model", err=True)
    typer.echo(
        f"{exp.name}: loss {s['loss']:.4g}; {values}; {s['end_year']} residents "
        f"{s['residents_mean']:,.0f} ± {s['residents_sd']:,.0f}, urbanization "
        f"{s['urbanization_mean']:.2%} ± {s['urbanization_sd']:.2%} "
        f"({s['check_replicates']} replicates, scale {s['check_scale']}); holdout loss "
        f"{s['check_loss_holdout']:.3g}; {s['wall_seconds']:.0f} s -> {result.out_dir}"
        + (f" and {s['parameters_table']}" if s.get("parameters_table") else ""))
