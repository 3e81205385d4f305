"""Options shared by every command, declared once so they mean the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Replicates = Annotated[int, typer.Option("--replicates", "-n", min=1, max=10_000,
                                         help="Replicates (seeds spawned from --seed).")]
Seed = Annotated[int | None, typer.Option(
    min=0, help="Master seed: replicate k uses SeedSequence(seed).spawn(n)[k] in every "
    "scenario (default: the scenario's, or the experiment file's, seed).")]
Scale = Annotated[float | None, typer.Option(min=0.0001, max=1.0,
                                             help="Fraction of the population simulated.")]
StartYear = Annotated[int | None, typer.Option(help="2010 or 2020 (census years).")]
EndYear = Annotated[int | None, typer.Option(help="Last simulated year.")]
Workers = Annotated[int | None, typer.Option(min=1, max=256,
                                             help="Worker processes (default one per core).")]
Engine = Annotated[str, typer.Option(
    help="Where runs are computed: sequential (this process), processes (local worker "
    "processes) or dask (a LocalCluster, or --scheduler). Results do not depend on it.")]
Scheduler = Annotated[str | None, typer.Option(help="Address of a running Dask scheduler.")]
Lang = Annotated[str, typer.Option(help="Labels: en or zh.")]
Fresh = Annotated[bool, typer.Option(
    "--fresh", help="Discard finished runs in --out and start over (also when --out holds "
    "results of other settings).")]
Set = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE",
    help="Set a scenario key (dotted, e.g. policy.levers.land_reform=0.7; value read as YAML); "
    "repeatable; checked like a scenario file.")]

Out = Annotated[Path | None, typer.Option(
    help="Output folder (default results/<scenario or experiment name>).")]
