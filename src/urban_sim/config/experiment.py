"""Schema of sensitivity experiment files (``experiments/*.yaml``).

An experiment names a model (the county model with a base scenario, or a built-in analytic test
function), the factors to vary with their distributions, the method (Sobol or Morris) and the
outputs. Unknown keys are errors everywhere (``extra="forbid"``); messages follow the scenario
loader: ``file:line: key ...`` with the nearest valid key for misspellings.

Distributions have named fields (never a bare ``bounds`` pair, whose meaning would change with
the distribution)::

    uniform:     {low, high}
    loguniform:  {low, high}          low > 0
    normal:      {mean, sd}
    truncnormal: {mean, sd, low, high}
    lognormal:   {mean, sd}           mean and sd of the variable itself (real space)
    triangular:  {low, mode, high}

A factor whose range is empty (``low == high``, or ``sd: 0``) is *fixed*: it is set to that value
in every run, left out of the sampled problem and listed as ``fixed = value`` in the report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

from urban_sim.config.loader import (
    load_scenario, nearest, read_mapping, validate_mapping, yaml_line,
)
from urban_sim.errors import ConfigError

DISTRIBUTIONS = ("uniform", "loguniform", "normal", "truncnormal", "lognormal", "triangular")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Uniform(_Strict):
    low: float
    high: float


class LogUniform(_Strict):
    low: float
    high: float


class Normal(_Strict):
    mean: float
    sd: float = Field(ge=0)


class TruncNormal(_Strict):
    mean: float
    sd: float = Field(ge=0)
    low: float
    high: float


class LogNormal(_Strict):
    """Log-normal given by the mean and standard deviation of the variable (not of its log)."""

    mean: float = Field(gt=0)
    sd: float = Field(ge=0)


class Triangular(_Strict):
    low: float
    mode: float
    high: float


class Factor(_Strict):
    """One sampled input: a dotted path into the scenario (or ``x1``... for analytic models).

    Attributes
    ----------
    name : str
        Dotted scenario path, e.g. ``policy.levers.land_reform``.
    kind : {'lever', 'uncertainty'}
        Under the county's control or not.
    group : str, optional
        Group for grouped indices (for example the task area).
    uniform, loguniform, normal, truncnormal, lognormal, triangular
        Exactly one distribution with named fields.
    """

    name: str = Field(min_length=1)
    kind: Literal["lever", "uncertainty"] = "lever"
    group: str | None = None
    description: str = ""
    uniform: Uniform | None = None
    loguniform: LogUniform | None = None
    normal: Normal | None = None
    truncnormal: TruncNormal | None = None
    lognormal: LogNormal | None = None
    triangular: Triangular | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_bare_bounds(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bounds" in data:
            raise ValueError(
                f"factor {data.get('name', '?')!r}: bare 'bounds' is not accepted; name the "
                "distribution and its fields, e.g. uniform: {low: 0.2, high: 0.8}, "
                "normal: {mean: 0.03, sd: 0.01}, lognormal: {mean: 0.05, sd: 0.01}")
        return data

    @model_validator(mode="after")
    def _check(self) -> "Factor":
        given = [d for d in DISTRIBUTIONS if getattr(self, d) is not None]
        if len(given) != 1:
            raise ValueError(f"factor {self.name!r}: give exactly one distribution "
                             f"({', '.join(DISTRIBUTIONS)}), got {len(given) or 'none'}")
        d = self.dist
        low, high = getattr(d, "low", None), getattr(d, "high", None)
        if low is not None and low > high:
            raise ValueError(f"factor {self.name!r}: {self.distribution} low ({low:g}) is greater "
                             f"than high ({high:g}); swap them")
        if self.distribution == "loguniform" and low <= 0:
            raise ValueError(f"factor {self.name!r}: loguniform needs 0 < low, got low = {low:g} "
                             "(the logarithm of a value ≤ 0 is undefined)")
        if self.distribution == "triangular" and not low <= d.mode <= high:
            raise ValueError(f"factor {self.name!r}: triangular mode ({d.mode:g}) must lie in "
                             f"[low, high] = [{low:g}, {high:g}]")
        return self

    @property
    def distribution(self) -> str:
        """Name of the distribution given."""
        return next(d for d in DISTRIBUTIONS if getattr(self, d) is not None)

    @property
    def dist(self) -> BaseModel:
        """The distribution's fields."""
        return getattr(self, self.distribution)

    @property
    def fixed_value(self) -> float | None:
        """The constant value when the range is empty (low == high or sd == 0), else None."""
        d = self.dist
        if hasattr(d, "low") and d.low == d.high:
            return float(d.low)
        if self.distribution in ("normal", "lognormal") and d.sd == 0:
            return float(d.mean)
        return None

    @property
    def unbounded(self) -> bool:
        """Whether the distribution has an infinite tail (normal, lognormal)."""
        return self.distribution in ("normal", "lognormal")

    def frozen(self) -> Any:
        """The scipy.stats frozen distribution (not for fixed factors).

        Notes
        -----
        Log-normal from real-space mean m and sd s: ``sigma² = ln(1 + s²/m²)``,
        ``mu = ln m - sigma²/2`` (so that ``E[X] = m``, ``sd[X] = s``).
        """
        d, kind = self.dist, self.distribution
        if kind == "uniform":
            return stats.uniform(loc=d.low, scale=d.high - d.low)
        if kind == "loguniform":
            return stats.loguniform(d.low, d.high)
        if kind == "normal":
            return stats.norm(loc=d.mean, scale=d.sd)
        if kind == "truncnormal":
            return stats.truncnorm((d.low - d.mean) / d.sd, (d.high - d.mean) / d.sd,
                                   loc=d.mean, scale=d.sd)
        if kind == "lognormal":
            sigma2 = math.log1p((d.sd / d.mean) ** 2)
            return stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(math.log(d.mean) - sigma2 / 2))
        return stats.triang((d.mode - d.low) / (d.high - d.low), loc=d.low, scale=d.high - d.low)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map unit-hypercube values ``u`` (shape (n,)) to factor values (inverse CDF)."""
        return self.frozen().ppf(u)


class MorrisSettings(_Strict):
    """Morris elementary-effects screening.

    ``truncate`` are the quantiles at which unbounded distributions (normal, lognormal) are cut,
    so that the grid's end levels map to finite values.
    """

    trajectories: int = Field(default=20, ge=2, le=10_000)
    levels: int = Field(default=4, ge=2, le=20)
    truncate: tuple[float, float] = (0.01, 0.99)

    @model_validator(mode="after")
    def _check(self) -> "MorrisSettings":
        lo, hi = self.truncate
        if not 0 < lo < hi < 1:
            raise ValueError(f"morris.truncate must satisfy 0 < low < high < 1, got [{lo}, {hi}]")
        if self.levels % 2:
            raise ValueError(f"morris.levels must be even, got {self.levels}")
        return self


class Experiment(_Strict):
    """A global sensitivity experiment.

    Attributes
    ----------
    name : str
    model : {'county', 'ishigami', 'sobol_g', 'python'}
        The county model (needs ``scenario``), an analytic test function, or a Python callable
        given to :func:`urban_sim.analysis.sensitivity.run_sensitivity` (tests, notebooks).
    scenario : str, optional
        Base scenario file, relative to the experiment file.
    method : {'sobol', 'morris'}
    N : int
        Sobol base sample size (a power of 2 is best); the design has ``N (D + 2)`` points, or
        ``N (2 D + 2)`` with ``second_order``.
    second_order : bool
    morris : MorrisSettings
    replicates : int
        Model runs per design point (different seeds; the same seeds at every point).
    seed : int
        Master seed of the design (scrambling) and of the replicate seeds.
    scale, start_year, end_year : optional scenario overrides.
    outputs : list of str, optional
        Output names (default: every plan target reached by ``end_year``, its ``_met`` and
        ``_shortfall``, ``attainment_score`` and the headline outcomes).
    groups : bool
        Also compute indices of factor groups (the ``group`` of each factor).
    nan_policy : {'fail', 'impute_mean'}
    num_resamples : int
        Bootstrap resamples of the confidence intervals.
    convergence_tolerance : float
        Largest change of a total index between N/2 and N before a warning.
    model_options : dict
        Options of analytic models (``a``, ``b`` for Ishigami; ``a`` list for Sobol G).
    factors : list of Factor
    """

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    model: Literal["county", "ishigami", "sobol_g", "python"] = "county"
    scenario: str | None = None
    method: Literal["sobol", "morris"] = "sobol"
    N: int = Field(default=1024, ge=2, le=2**20)
    second_order: bool = False
    morris: MorrisSettings = Field(default_factory=MorrisSettings)
    replicates: int = Field(default=1, ge=1, le=1000)
    seed: int = Field(default=20241204, ge=0, le=2**32 - 1)
    scale: float | None = Field(default=None, gt=0, le=1)
    start_year: int | None = None
    end_year: int | None = None
    outputs: list[str] | None = None
    groups: bool = False
    nan_policy: Literal["fail", "impute_mean"] = "fail"
    num_resamples: int = Field(default=100, ge=10, le=10_000)
    convergence_tolerance: float = Field(default=0.05, gt=0, le=1)
    model_options: dict[str, float | list[float]] = Field(default_factory=dict)
    factors: list[Factor] = Field(min_length=1)
    _source: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "Experiment":
        names = [f.name for f in self.factors]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"factor names must be unique; repeated: {', '.join(dup)}")
        if self.model == "county" and not self.scenario:
            raise ValueError("model 'county' needs 'scenario' (a scenario file)")
        if self.model == "ishigami" and len(self.factors) != 3:
            raise ValueError(f"model 'ishigami' has 3 inputs, got {len(self.factors)} factors")
        if not any(f.fixed_value is None for f in self.factors):
            raise ValueError("every factor is fixed (empty range): nothing to vary")
        return self

    @property
    def varied(self) -> list[Factor]:
        """Factors that are sampled (the problem's variables), in file order."""
        return [f for f in self.factors if f.fixed_value is None]

    @property
    def fixed(self) -> dict[str, float]:
        """Factors with an empty range and their constant value."""
        return {f.name: f.fixed_value for f in self.factors if f.fixed_value is not None}

    def scenario_path(self) -> Path | None:
        """The base scenario file, resolved against the experiment file's folder."""
        if self.scenario is None:
            return None
        path = Path(self.scenario)
        if not path.is_absolute() and self._source:
            path = Path(self._source).parent / path
        return path


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment file (YAML or TOML).

    Raises
    ------
    ConfigError
        Unknown key (with the nearest valid one), missing or invalid value, reversed range,
        log-uniform with ``low <= 0``, bare ``bounds``; every problem as ``file:line: ...``;
        a ``scenario`` file that does not exist or is invalid.
    """
    path = Path(path)
    exp = validate_mapping(Experiment, read_mapping(path), [path])
    exp._source = str(path.resolve())
    scen = exp.scenario_path()
    if scen is not None:
        line = yaml_line(path, ("scenario",))
        where = f"{path}:{line}" if line else str(path)
        if not scen.is_file():
            raise ConfigError(f"{where}: key 'scenario': scenario file {scen} not found")
        load_scenario(scen)  # a broken scenario is this experiment's error too
    return exp
