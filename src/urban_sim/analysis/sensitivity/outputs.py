"""Scalar outputs of a county run for sensitivity analysis, declared as structures.

Each scalar output is a :class:`ScalarOutput`: a model output of the catalogue
(:mod:`urban_sim.model.outputs`) in one year and a statistic of it (the value, whether its plan
target is met, the shortfall), or a composite over the targets (the attainment score, the number
of targets met). Reports read these declarations (saved as ``outputs.csv``) and the catalogue's
units and labels; names are parsed only once, when a user lists outputs in an experiment file.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from urban_sim.errors import ConfigError

HEADLINE = ("resident_population", "county_seat_population", "urbanization_rate", "jobs_nonfarm")
"""Headline outcomes reported next to the targets (at 2027, or the last simulated year)."""

HEADLINE_YEAR = 2027

_OUTPUT = re.compile(r"^(?P<ind>.+)_(?P<year>\d{4})(?P<suffix>_met|_shortfall)?$")
STATS = ("value", "met", "shortfall", "score", "n_met")


@dataclass(frozen=True)
class ScalarOutput:
    """One scalar output of a run.

    Attributes
    ----------
    name : str
        Column name in ``runs.parquet``.
    stat : {'value', 'met', 'shortfall', 'score', 'n_met'}
        The indicator's value; 1/0 whether its target is met; the normalised shortfall; the mean
        attainment score over all targets; the number of targets of ``year`` met.
    indicator : str, optional
        Catalogue name of the model output (None for ``score`` and ``n_met``).
    year : int, optional
    is_target : bool
        Whether the plan sets a target for ``indicator`` in ``year``.
    """

    name: str
    stat: str
    indicator: str | None = None
    year: int | None = None
    is_target: bool = False


def declare_outputs(targets, start_year: int, end_year: int,
                    names: list[str] | None = None) -> list[ScalarOutput]:
    """The scalar outputs of an experiment: ``names`` (from the experiment file) or the defaults
    of :func:`default_outputs`.

    Raises
    ------
    ConfigError
        An output that cannot be computed (unknown form, year outside the simulation, no target).
    """
    names = names or default_outputs(targets, start_year, end_year)
    check_outputs(names, targets, start_year, end_year)
    keys = {(t.indicator, t.year) for t in targets}
    out = []
    for name in names:
        if name == "attainment_score":
            out.append(ScalarOutput(name, "score"))
            continue
        m = _OUTPUT.match(name)
        ind, year = m["ind"], int(m["year"])
        if ind == "targets_met":
            out.append(ScalarOutput(name, "n_met", None, year))
            continue
        stat = (m["suffix"] or "_value")[1:]
        out.append(ScalarOutput(name, stat, ind, year, (ind, year) in keys))
    return out


def outputs_table(outputs: list[ScalarOutput]) -> pd.DataFrame:
    """The declarations as a table (``outputs.csv``)."""
    return pd.DataFrame([asdict(o) for o in outputs],
                        columns=["name", "stat", "indicator", "year", "is_target"])


def default_outputs(targets, start_year: int, end_year: int) -> list[str]:
    """Every target reached by ``end_year`` (value, ``_met``, ``_shortfall``), the composite
    ``attainment_score`` and the headline outcomes at 2027 (or ``end_year`` if earlier)."""
    names = []
    for t in targets:
        if start_year < t.year <= end_year:
            names += [f"{t.indicator}_{t.year}", f"{t.indicator}_{t.year}_met",
                      f"{t.indicator}_{t.year}_shortfall"]
    if names:
        names.append("attainment_score")
    year = min(HEADLINE_YEAR, end_year)
    return names + [f"{h}_{year}" for h in HEADLINE] + (
        [f"targets_met_{year}"] if any(t.year == year for t in targets) else [])


def check_outputs(names: list[str], targets, start_year: int, end_year: int) -> None:
    """Raise ConfigError for an output that cannot be computed from a run."""
    keys = {(t.indicator, t.year) for t in targets}
    for name in names:
        if name == "attainment_score":
            continue
        m = _OUTPUT.match(name)
        if not m:
            raise ConfigError(f"output {name!r}: use INDICATOR_YEAR (e.g. urbanization_rate_2027), "
                              "INDICATOR_YEAR_met, INDICATOR_YEAR_shortfall or attainment_score")
        year = int(m["year"])
        if m["ind"] == "targets_met" and not m["suffix"]:
            if not any(t.year == year for t in targets):
                raise ConfigError(f"output {name!r}: the plan has no targets for {year}")
        if not start_year < year <= end_year:
            raise ConfigError(f"output {name!r}: year {year} is outside the simulated years "
                              f"{start_year + 1}-{end_year}")
        if m["suffix"] and (m["ind"], year) not in keys:
            raise ConfigError(f"output {name!r}: there is no plan target for {m['ind']} in {year}")


def target_score(t, value: float) -> tuple[float, float, float]:
    """``(met, shortfall, score)`` of one target.

    Notes
    -----
    ``met`` is 0 or 1. ``shortfall`` is the gap in the target's direction normalised by the
    target: ``max(0, target - value) / |target|`` for ``>=``, ``max(0, value - target) /
    |target|`` for ``<=``, the distance outside ``[low, high]`` over ``|low|`` for ``between``.
    ``score`` is ``min(1, value / target)`` for ``>=``, ``min(1, target / value)`` for ``<=``,
    ``max(0, 1 - shortfall)`` for ``between``. NaN values give NaN.
    """
    if math.isnan(value):
        return math.nan, math.nan, math.nan
    return float(bool(t.met(value))), t.shortfall(value) / (abs(t.target) or 1.0), t.score(value)


def county_outputs(timeseries: pd.DataFrame, targets,
                   outputs: list[ScalarOutput] | list[str]) -> dict[str, float]:
    """Scalar outputs of one county run.

    Parameters
    ----------
    timeseries : pandas.DataFrame
        Long timeseries of one run (rows of other places are ignored).
    targets : list of Target
    outputs : list of ScalarOutput (or output names, declared with :func:`declare_outputs`)

    Raises
    ------
    KeyError
        If an output's indicator is not in the timeseries.
    """
    if outputs and isinstance(outputs[0], str):
        years = timeseries["year"]
        outputs = declare_outputs(targets, int(years.min()) - 1, int(years.max()), list(outputs))
    county = timeseries[timeseries["place"] == "county"]
    lookup = dict(zip(zip(county["indicator"], county["year"]), county["value"], strict=True))
    indicators = set(county["indicator"])
    by_key = {(t.indicator, t.year): t for t in targets}
    years = set(county["year"])

    def value(t) -> float:
        return float(lookup.get((t.indicator, t.year), math.nan))

    out: dict[str, float] = {}
    for o in outputs:
        if o.stat == "score":
            scores = [target_score(t, value(t))[2] for t in targets if t.year in years]
            out[o.name] = float(np.mean(scores)) if scores else math.nan
        elif o.stat == "n_met":
            out[o.name] = float(sum(target_score(t, value(t))[0] for t in targets if t.year == o.year))
        elif o.indicator not in indicators:
            raise KeyError(f"output {o.name!r}: indicator {o.indicator!r} is not in the model's "
                           "timeseries")
        else:
            v = float(lookup.get((o.indicator, o.year), math.nan))
            if o.stat == "value":
                out[o.name] = v
            else:
                met, gap, _ = target_score(by_key[(o.indicator, o.year)], v)
                out[o.name] = met if o.stat == "met" else gap
    return out
