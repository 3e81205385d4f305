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

DISTRIBUTIONS = ("uniform", "loguniform", "normal", "truncnormal", "lognormal", "triangular",
                 "levels")

INTEGER_PATHS = {"policy.start_year": "a year", "start_year": "a year", "end_year": "a year",
                 "seed": "a seed"}
"""Scenario settings the model treats as integers: a continuous distribution on them is refused
(case C21); give ``levels: [...]`` instead."""


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


class Levels(_Strict):
    """A discrete factor: equally likely values (integers stay integers), e.g. years."""

    values: list[float] = Field(min_length=1)


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
    unit : str
        Unit of the factor shown in reports: a unit code of the output catalogue
        (``urban_sim.model.outputs.UNITS``, e.g. ``million_yuan_per_year``) or free text.
    step : float, optional
        Lever change for which effects are reported (default: a tenth of the range, rounded),
        e.g. 100 for "per 100 million yuan".
    uniform, loguniform, normal, truncnormal, lognormal, triangular, levels
        Exactly one distribution with named fields; ``levels: {values: [...]}`` samples
        equally likely discrete values (integer settings such as ``policy.start_year``).
    """

    name: str = Field(min_length=1)
    kind: Literal["lever", "uncertainty"] = "lever"
    group: str | None = None
    description: str = ""
    unit: str = ""
    step: float | None = Field(default=None, gt=0)
    uniform: Uniform | None = None
    loguniform: LogUniform | None = None
    normal: Normal | None = None
    truncnormal: TruncNormal | None = None
    lognormal: LogNormal | None = None
    triangular: Triangular | None = None
    levels: Levels | None = None

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
        if self.name in INTEGER_PATHS and self.distribution != "levels":
            raise ValueError(
                f"factor {self.name!r}: the model treats it as an integer ({INTEGER_PATHS[self.name]}), "
                f"so a continuous {self.distribution} distribution would give values such as "
                "2025.67; give its levels instead, e.g. levels: {values: [2025, 2026, 2027]}")
        if self.distribution == "levels" and len(set(d.values)) != len(d.values):
            raise ValueError(f"factor {self.name!r}: levels repeat a value: {d.values}")
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
        if self.distribution == "levels":
            return float(d.values[0]) if len(d.values) == 1 else None
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

    @property
    def integer(self) -> bool:
        """Whether every value is an integer (levels of whole numbers)."""
        return self.distribution == "levels" and all(float(v).is_integer() for v in self.dist.values)

    @property
    def bounds(self) -> tuple[float, float]:
        """Smallest and largest value (the 0.5 % and 99.5 % quantiles for unbounded tails)."""
        if self.distribution == "levels":
            return float(min(self.dist.values)), float(max(self.dist.values))
        lo, hi = (0.005, 0.995) if self.unbounded else (0.0, 1.0)
        return float(self.frozen().ppf(lo)), float(self.frozen().ppf(hi))

    @property
    def effect_step(self) -> float:
        """Lever change for which effects are reported: ``step`` or a tenth of the range rounded
        to the nearest 1, 2 or 5 times a power of ten (0.08 -> 0.1, 120 -> 100)."""
        if self.step:
            return self.step
        lo, hi = self.bounds
        width = (hi - lo) / 10 or 1.0
        k = math.floor(math.log10(width))
        nice = min((1, 2, 5, 10), key=lambda m: abs(math.log10(m * 10.0 ** k / width)))
        return float(f"{nice * 10.0 ** k:.6g}")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Map unit-hypercube values ``u`` (shape (n,)) to factor values (inverse CDF); levels
        take ``values[floor(u k)]`` for ``k`` levels."""
        if self.distribution == "levels":
            vals = np.asarray(sorted(self.dist.values), dtype=float)
            return vals[np.minimum((np.asarray(u) * len(vals)).astype(int), len(vals) - 1)]
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


class ScenarioSettings(_Strict):
    """Uncertainty scenarios of a lever analysis.

    The factors of kind ``uncertainty`` are not sampled with the levers: ``n`` scenarios are drawn
    by Latin hypercube (scipy.stats.qmc) over them, and the lever analysis is repeated in each.
    With ``posterior`` (a CSV of calibrated parameter draws, columns = parameter names, optional
    ``weight``), each scenario also takes one weighted draw of the posterior as its
    ``parameters.<name>`` values.
    """

    n: int = Field(default=4, ge=1, le=256)
    seed: int = Field(default=20250301, ge=0, le=2**32 - 1)
    posterior: str | None = None


class EmulatorSettings(_Strict):
    """Gaussian-process emulator (scikit-learn) carrying the Sobol sums when real runs at the
    design's volume do not fit: trained on ``train_points`` real runs (Latin hypercube over levers
    and uncertainties), checked by ``cv_folds``-fold cross-validation, and its top-three levers
    confirmed on a real-run Sobol design with base size ``confirm_N`` in the first scenario."""

    train_points: int = Field(default=256, ge=8, le=100_000)
    cv_folds: int = Field(default=5, ge=2, le=20)
    confirm_N: int = Field(default=32, ge=0, le=4096)


class CheckSettings(_Strict):
    """Scale and replicate checks run before the design.

    ``scales``: candidate scales (scale 1 is always the reference); the smallest whose headline
    means (``check_replicates`` runs at the base scenario) are within ``scale_tolerance`` of
    scale 1 is used. Replicates per point: the smallest count keeping the seed-noise variance of
    each ranked output's replicate mean below ``noise_share`` of its variance over a pilot
    design of ``pilot_points`` points, at most ``max_replicates``.
    """

    scales: list[float] = Field(default_factory=lambda: [0.02, 0.05, 0.1, 0.2, 0.5])
    scale_tolerance: float = Field(default=0.01, gt=0, le=1)
    check_replicates: int = Field(default=3, ge=1, le=100)
    pilot_points: int = Field(default=16, ge=4, le=1000)
    noise_share: float = Field(default=0.1, gt=0, le=1)
    max_replicates: int = Field(default=8, ge=1, le=1000)


class PrimSettings(_Strict):
    """Scenario discovery (EMA Workbench PRIM): boxes of lever and uncertainty ranges where a
    target is met with probability (box density) at least ``threshold``."""

    threshold: float = Field(default=0.8, gt=0, le=1)
    peel_alpha: float = Field(default=0.05, gt=0, lt=0.5)
    mass_min: float = Field(default=0.05, gt=0, lt=1)


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
    scenarios : ScenarioSettings, optional
        Makes this a lever analysis: levers are the sampled factors, uncertainties define
        ``scenarios.n`` Latin-hypercube scenarios (see :mod:`urban_sim.analysis.sensitivity.levers`).
    emulator : EmulatorSettings, optional
        Let a Gaussian-process emulator carry the Sobol sums of a lever analysis.
    checks : CheckSettings, optional
        Choose scale and replicates by the scale and noise checks before the design.
    prim : PrimSettings
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
    scenarios: ScenarioSettings | None = None
    emulator: EmulatorSettings | None = None
    checks: CheckSettings | None = None
    prim: PrimSettings = Field(default_factory=PrimSettings)
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
        if self.groups:
            groups = {f.group or f.name for f in self.varied if self.scenarios is None
                      or f.kind == "lever"}
            if len(groups) < 2:
                raise ValueError(f"groups: true with a single group ({', '.join(groups)}): one "
                                 "group cannot be ranked against anything; give the factors at "
                                 "least two different 'group' values or set groups: false")
        if self.scenarios is not None:
            if self.model != "county" or self.method != "sobol":
                raise ValueError("scenarios (a lever analysis) needs model: county and method: sobol")
            if not any(f.kind == "lever" for f in self.varied):
                raise ValueError("scenarios: a lever analysis needs at least one varied lever")
        elif self.emulator is not None:
            raise ValueError("emulator needs scenarios (it carries a lever analysis)")
        return self

    @property
    def levers(self) -> list[Factor]:
        """Varied factors of kind lever."""
        return [f for f in self.varied if f.kind == "lever"]

    @property
    def uncertainties(self) -> list[Factor]:
        """Varied factors of kind uncertainty."""
        return [f for f in self.varied if f.kind == "uncertainty"]

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
