"""Calibration experiment files: settings, bounds, the checked setup.

A calibration experiment (YAML) names the base scenario, the observations, the parameters to
estimate with their bounds, the simulation settings and the method::

    name: census
    scenario: ../configs/baseline.yaml       # relative to this file
    observations: ../data/lin_county/observations.csv
    start_year: 2010                         # a census year: the initial condition
    scale: 0.1
    replicates: 3                            # common random numbers: same seeds for every θ
    method: msm                              # or abc
    parameters:
      asc_outside: {low: 5.0, high: 6.6}
      asc_seat: {}                           # bounds from parameters.csv
      return_hazard_base: {low: 0.015, high: 0.015}   # equal bounds: fixed, not searched
    holdout:
      - {indicator: urban_population}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from urban_sim.config import load_scenario, read_mapping
from urban_sim.config.loader import SHIPPED_SCENARIOS, validate_mapping, yaml_line
from urban_sim.config.schema import Scenario
from urban_sim.data import DEFAULT_DATA_DIR, read_csv
from urban_sim.errors import CalibrationError, ConfigError, did_you_mean

from .observations import read_observations

DEFAULT_SCENARIO = SHIPPED_SCENARIOS / "baseline.yaml"
DEFAULT_OBSERVATIONS = DEFAULT_DATA_DIR / "observations.csv"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParameterSpec(_Strict):
    """Bounds of one parameter (the search box for MSM, the uniform prior for ABC).

    Missing bounds are taken from ``parameters.csv`` (columns ``low``, ``high``). Equal bounds
    fix the parameter at that value; it is then not searched.
    """

    low: float | None = None
    high: float | None = None


class Holdout(_Strict):
    """Selects observations kept out of the fit and reported separately (validation)."""

    indicator: str | None = None
    year: int | None = None
    place: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Holdout":
        if self.indicator is None and self.year is None and self.place is None:
            raise ValueError("a holdout selector needs at least one of indicator, year, place")
        return self


class OptimizerSettings(_Strict):
    """Settings of :func:`scipy.optimize.differential_evolution` (method ``msm``)."""

    maxiter: int = Field(default=15, ge=1, le=10_000)
    popsize: int = Field(default=10, ge=2, le=1000)
    tol: float = Field(default=0.01, ge=0)
    mutation: float | tuple[float, float] = (0.5, 1.0)
    recombination: float = Field(default=0.7, ge=0, le=1)
    polish: bool = False
    seed: int = Field(default=1, ge=0)


class ABCSettings(_Strict):
    """Settings of the ABC-SMC sampler (method ``abc``)."""

    population_size: int = Field(default=50, ge=2, le=100_000)
    generations: int = Field(default=4, ge=1, le=100)
    quantile: float = Field(default=0.5, gt=0, lt=1)
    max_evaluations: int = Field(default=5000, ge=2)
    seed: int = Field(default=1, ge=0)


class CheckSettings(_Strict):
    """The run after fitting that fit.csv, the figures and the report show."""

    replicates: int = Field(default=10, ge=1, le=1000)
    scale: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=0)


class CalibrationExperiment(_Strict):
    """A calibration experiment file (see the module docstring)."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    scenario: str | None = None
    observations: str | None = None
    encoding: str | None = None
    start_year: Literal[2010, 2020] = 2010
    end_year: int | None = Field(default=None, ge=2011, le=2060)
    scale: float = Field(default=0.1, gt=0, le=1)
    replicates: int = Field(default=3, ge=1, le=1000)
    seed: int = Field(default=20241204, ge=0, le=2**63 - 1)
    method: Literal["msm", "abc"] = "msm"
    parameters: dict[str, ParameterSpec] = Field(min_length=1)
    holdout: list[Holdout] = Field(default_factory=list)
    optimizer: OptimizerSettings = OptimizerSettings()
    abc: ABCSettings = ABCSettings()
    check: CheckSettings = CheckSettings()
    workers: int = Field(default=1, ge=1, le=256)
    shift_posterior: bool = False
    """With ``method: msm`` and ``write_data``: move the data folder's ``posterior.csv`` by the
    change of the refined parameters (a full-scale MSM refinement of a small-scale ABC, docs)."""
    write_data: bool = False
    """Write the calibrated values into the data folder: ``parameters.csv`` (``value``, with
    ``source`` naming this experiment and ``status`` derived) and, for ABC, ``posterior.csv``."""


@dataclass
class Setup:
    """A checked calibration experiment, ready to run.

    Attributes
    ----------
    experiment : CalibrationExperiment
    path : Path
        The experiment file.
    base : Scenario
        The base scenario as its file gives it.
    scenario : Scenario
        The base scenario with the experiment's start year, end year, scale and seed.
    observations_path : Path
    bounds : dict[str, tuple[float, float]]
        Every listed parameter's (low, high); equal bounds mean fixed.
    data_dir : Path
        The base scenario's data folder (``parameters.csv``, ``posterior.csv``).
    """

    experiment: CalibrationExperiment
    path: Path
    base: Scenario
    scenario: Scenario
    observations_path: Path
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    data_dir: Path = DEFAULT_DATA_DIR


def _resolve(path: Path, value: str | None, default: Path) -> Path:
    if value is None:
        return default
    p = Path(value)
    return p if p.is_absolute() else (path.parent / p)


def load_experiment(path: str | Path, *, workers: int | None = None) -> Setup:
    """Read and check a calibration experiment file.

    Parameters
    ----------
    path : str or Path
        YAML or TOML file. Relative ``scenario`` and ``observations`` paths are relative to it;
        by default the built-in ``configs/baseline.yaml`` and
        ``data/lin_county/observations.csv`` are used.
    workers : int, optional
        Overrides the file's ``workers``.

    Returns
    -------
    Setup

    Raises
    ------
    ConfigError
        Unknown key (with the nearest valid key), value out of range, unknown parameter name,
        reversed bounds (naming the parameter and both numbers), missing scenario file, or an
        ``end_year`` not after ``start_year``.
    CalibrationError
        Missing or invalid observations file (key ``observations``).
    """
    path = Path(path)
    exp = validate_mapping(CalibrationExperiment, read_mapping(path), [path])
    if workers is not None:
        exp = exp.model_copy(update={"workers": workers})
    scen_path = _resolve(path, exp.scenario, DEFAULT_SCENARIO)
    if not scen_path.is_file():
        raise ConfigError(f"{path}: key 'scenario': scenario file {scen_path} not found")
    base = load_scenario(scen_path)
    obs_path = _resolve(path, exp.observations, DEFAULT_OBSERVATIONS)
    try:  # checked here, so that `validate` catches a missing or broken observations file
        observed = read_observations(obs_path, encoding=exp.encoding)
    except CalibrationError as exc:
        line = yaml_line(path, ("observations",))
        raise CalibrationError(f"{path}{f':{line}' if line else ''}: key 'observations': {exc}") from None
    end_year = exp.end_year
    if end_year is None:
        end_year = int(observed["year"].max())
    if end_year <= exp.start_year:
        raise ConfigError(f"{path}: end_year ({end_year}) must be after start_year "
                          f"({exp.start_year})")
    scenario = load_scenario(scen_path, {"start_year": exp.start_year, "end_year": end_year,
                                         "scale": exp.scale, "seed": exp.seed})
    csv = Path(base.data_dir or DEFAULT_DATA_DIR) / "parameters.csv"
    limits = read_csv(csv).set_index("name")[["low", "high"]].astype(float)
    table = list(limits.index)
    bounds: dict[str, tuple[float, float]] = {}
    for name, spec in exp.parameters.items():
        if name not in table:
            tip = did_you_mean(name, table)
            line = yaml_line(path, ("parameters", name))
            where = f"{path}:{line}" if line else f"{path}"
            raise ConfigError(f"{where}: unknown parameter 'parameters.{name}'{tip}; "
                              f"names are those of {csv}")
        lo_ok, hi_ok = float(limits.loc[name, "low"]), float(limits.loc[name, "high"])
        low = lo_ok if spec.low is None else spec.low
        high = hi_ok if spec.high is None else spec.high
        bounds[name] = (low, high)
        if low < lo_ok or high > hi_ok:  # caught by validate, before any run
            line = yaml_line(path, ("parameters", name))
            raise ConfigError(f"{path}{f':{line}' if line else ''}: parameters.{name}: bounds "
                              f"[{low:g}, {high:g}] lie outside the declared range "
                              f"[{lo_ok:g}, {hi_ok:g}] of {csv}; narrow them (or widen the "
                              "range in the table, with a source)")
    check_bounds(bounds, where=str(path))
    return Setup(exp, path, base, scenario, obs_path, bounds,
                 Path(base.data_dir or DEFAULT_DATA_DIR))


def check_bounds(bounds: dict[str, tuple[float, float]], *, where: str = "parameters") -> None:
    """Raise :class:`ConfigError` if a parameter's low bound is above its high bound."""
    for name, (low, high) in bounds.items():
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ConfigError(f"{where}: parameters.{name}: bounds must be finite, got "
                              f"low={low}, high={high}")
        if low > high:
            raise ConfigError(f"{where}: parameters.{name}: low ({low:g}) is above high "
                              f"({high:g}); swap them, or make them equal to fix the parameter")


def split_bounds(bounds: dict[str, tuple[float, float]]
                 ) -> tuple[list[str], list[tuple[float, float]], dict[str, float]]:
    """Free parameter names, their bounds, and the parameters fixed by equal bounds.

    Returns
    -------
    names : list of str
        Parameters searched, in the given order.
    search_bounds : list of (low, high)
        What the optimiser receives; fixed parameters are not in it.
    fixed : dict[str, float]
    """
    check_bounds(bounds)
    names = [n for n, (lo, hi) in bounds.items() if lo < hi]
    fixed = {n: lo for n, (lo, hi) in bounds.items() if lo == hi}
    return names, [bounds[n] for n in names], fixed
