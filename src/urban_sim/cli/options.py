"""Options shared by every command, declared once so they mean the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Replicates = Annotated[int, typer.Option("--replicates", "-n", min=1, max=10_000,
                                         help="Replicates (seeds spawned from --seed).")]
Seed = Annotated[int | None, typer.Option(
    min=0, help="Master seed: replicate k uses SeedSequence(seed).spawn(n)[k] "
    "(default: the (first) scenario's seed).")]
Scale = Annotated[float | None, typer.Option(min=0.0001, max=1.0,
                                             help="Fraction of the population simulated.")]
StartYear = Annotated[int | None, typer.Option(help="2010 or 2020 (census years).")]
EndYear = Annotated[int | None, typer.Option(help="Last simulated year.")]
Workers = Annotated[int | None, typer.Option(min=1, max=256,
                                             help="Worker processes (default one per core).")]
Engine = Annotated[str, typer.Option(help="sequential, processes or dask.")]
Scheduler = Annotated[str | None, typer.Option(help="Address of a running Dask scheduler.")]
Lang = Annotated[str, typer.Option(help="Labels: en or zh.")]
Fresh = Annotated[bool, typer.Option("--fresh", help="Discard finished runs instead of resuming.")]

Out = Annotated[Path | None, typer.Option(
    help="Output folder (default results/<scenario or experiment name>).")]
