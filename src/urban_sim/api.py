"""The Python API for notebooks: load, change, run, compare, analyse; tidy pandas results.

Everything a command does is available here with keyword arguments of the same meaning, and
errors name the argument (``settings``, ``replicates``), not a command-line option. See
``docs/tutorial.md`` (its code blocks run in the test suite).

Examples
--------
>>> import urban_sim as us
>>> plan = us.load("plan", scale=0.02, end_year=2027)
>>> plan = us.configure(plan, {"policy.levers.land_reform": 0.8})
>>> res = us.run(plan, replicates=2)
>>> res.indicator("urbanization_rate").shape       # years × replicates
(8, 2)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from urban_sim.config.loader import load_scenario, with_overrides
from urban_sim.config.schema import Scenario
from urban_sim.errors import UrbanSimError

_LANGS = ("en", "zh")


def _check(name: str, value, allowed: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r}: {allowed}")


def load(scenario: str | Path | Scenario, *, settings: dict[str, Any] | None = None,
         scale: float | None = None, start_year: int | None = None, end_year: int | None = None,
         seed: int | None = None) -> Scenario:
    """Load a scenario (shipped name such as ``"plan"``, or a YAML/TOML file) and apply settings.

    Parameters
    ----------
    scenario : str, pathlib.Path or Scenario
        A shipped scenario's name, a scenario file, or an already loaded scenario.
    settings : dict, optional
        Dotted keys to set, e.g. ``{"policy.levers.land_reform": 0.8}``; checked like the file.
    scale : float, optional
        Fraction of the population simulated, in (0, 1].
    start_year : {2010, 2020}, optional
    end_year : int, optional
    seed : int, optional
        Scenario seed (replicate seeds are spawned from it).

    Returns
    -------
    Scenario

    Raises
    ------
    ConfigError
        Unknown scenario file or key, or a value out of range; the message names the argument
        (``settings['policy.levers.x']``) and the allowed range.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    given = {"scale": scale, "start_year": start_year, "end_year": end_year, "seed": seed}
    return configure(sc, {**{k: v for k, v in given.items() if v is not None}, **(settings or {})})


def configure(scenario: Scenario, settings: dict[str, Any]) -> Scenario:
    """A copy of ``scenario`` with dotted settings changed (the scenario itself is unchanged).

    Raises
    ------
    ConfigError
        An unknown key or a value out of range, naming ``settings['KEY']``.
    TypeError
        If ``settings`` is not a dict.
    """
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict of dotted keys, got {type(settings).__name__}")
    if not settings:
        return scenario
    return with_overrides(scenario, settings, source="settings argument")


@dataclass
class Results:
    """Results of :func:`run`: tidy long timeseries and the target table.

    Attributes
    ----------
    scenario : Scenario
    timeseries : pandas.DataFrame
        Columns ``scenario, replicate, year, place, indicator, value`` (one row each).
    targets : pandas.DataFrame
        One row per plan target: ``indicator, year, operator, target, target_high, value, met``
        (replicate 0) and ``mean, p05, p95, p_met`` over replicates.
    seeds : list of dict
        Replicate seeds (entropy and spawn key).
    wall_seconds : float
    """

    scenario: Scenario
    timeseries: pd.DataFrame
    targets: pd.DataFrame
    seeds: list = field(default_factory=list)
    wall_seconds: float = 0.0
    _raw: Any = None

    def indicator(self, name: str, place: str = "county") -> pd.DataFrame:
        """One output as a wide table: rows years, columns replicates.

        Raises
        ------
        KeyError
            If ``name`` is not a declared output (with the nearest name) or has no rows at
            ``place``.
        """
        from urban_sim.model.outputs import output

        output(name)
        rows = self.timeseries[(self.timeseries["indicator"] == name) & (self.timeseries["place"] == place)]
        if rows.empty:
            raise KeyError(f"output {name!r} has no values at place {place!r}")
        return rows.pivot_table(index="year", columns="replicate", values="value")

    def summary(self, names: list[str] | None = None, place: str = "county") -> pd.DataFrame:
        """Median and 5–95 % range over replicates by output and year (tidy).

        Returns
        -------
        pandas.DataFrame
            Columns ``indicator, year, median, p05, p95``.
        """
        names = names or ["resident_population", "urbanization_rate", "jobs_nonfarm"]
        rows = self.timeseries[self.timeseries["indicator"].isin(names) & (self.timeseries["place"] == place)]
        g = rows.groupby(["indicator", "year"])["value"]
        return pd.DataFrame({"median": g.median(), "p05": g.quantile(0.05),
                             "p95": g.quantile(0.95)}).reset_index()

    def save(self, folder: str | Path, *, lang: str = "en") -> Path:
        """Write a normal ``run`` output folder (manifest, timeseries, targets, report.html)."""
        from urban_sim.reports.output import write_run_folder

        _check("lang", lang, "allowed values are 'en' and 'zh'", lang in _LANGS)
        return write_run_folder(folder, self.scenario, self._raw, started=dt.datetime.now(dt.timezone.utc),
                                lang=lang)


def run(scenario: Scenario | str, *, replicates: int = 1, workers: int | None = 1,
        engine: str = "sequential", folder: str | Path | None = None) -> Results:
    """Run one scenario ``replicates`` times (seeds spawned from the scenario's seed).

    Parameters
    ----------
    scenario : Scenario or str
        A loaded scenario or anything :func:`load` accepts.
    replicates : int
        Number of replicates, ≥ 1.
    workers : int or None
        Worker processes (None: one per core); used with ``engine="processes"``.
    engine : {"sequential", "processes", "dask"}
    folder : path, optional
        Keep each finished run in ``folder/runs`` so an interrupted call resumes.

    Raises
    ------
    ValueError
        ``replicates`` < 1 or an unknown ``engine``.
    """
    from urban_sim.runs.runner import run_scenario

    _check("replicates", replicates, "must be an integer ≥ 1",
           isinstance(replicates, (int, np.integer)) and replicates >= 1)
    _check("engine", engine, "allowed values are 'sequential', 'processes' and 'dask'",
           engine in ("sequential", "processes", "dask"))
    sc = scenario if isinstance(scenario, Scenario) else load(scenario)
    raw = run_scenario(sc, n_replicates=int(replicates), engine=engine, workers=workers,
                       store_dir=folder)
    return Results(sc, raw.timeseries, raw.targets, raw.seeds, raw.wall_seconds, raw)


@dataclass
class Comparison:
    """Results of :func:`compare`.

    Attributes
    ----------
    timeseries : pandas.DataFrame
        Long timeseries of every scenario and replicate (paired seeds).
    scorecard : pandas.DataFrame
        Scenario × target: ``mean, p05, p95, p_met, mean_shortfall, n`` (and flags).
    paired_differences : pandas.DataFrame
        Headline outputs in the last year, scenario − reference with 95 % intervals.
    reference : str
    """

    scenarios: list[Scenario]
    timeseries: pd.DataFrame
    scorecard: pd.DataFrame
    paired_differences: pd.DataFrame
    reference: str
    seed: int
    _raw: Any = None

    def save(self, folder: str | Path, *, lang: str = "en") -> Path:
        """Write a normal ``compare`` output folder with ``report.html`` and ``report.md``."""
        from urban_sim.reports.output import write_compare_folder

        _check("lang", lang, "allowed values are 'en' and 'zh'", lang in _LANGS)
        return write_compare_folder(folder, self.scenarios, self._raw, self.reference, self.seed,
                                    started=dt.datetime.now(dt.timezone.utc), lang=lang,
                                    engine="sequential")


def compare(scenarios: list, *, replicates: int = 10, reference: str | None = None,
            seed: int | None = None, workers: int | None = 1, engine: str = "sequential") -> Comparison:
    """Run several scenarios with paired replicates (common random numbers) and compare them.

    Parameters
    ----------
    scenarios : list of Scenario or str
        Two or more scenarios with different names.
    replicates : int
        Replicates per scenario, ≥ 1.
    reference : str, optional
        Name of the reference scenario (default the first).
    seed : int, optional
        Master seed (default the first scenario's seed).

    Raises
    ------
    ValueError
        Fewer than two scenarios, duplicate names, an unknown ``reference``, ``replicates`` < 1.
    """
    from urban_sim.analysis.compare import HEADLINE, paired_differences, scorecard
    from urban_sim.data.tables import load_county_cached
    from urban_sim.runs.ensemble import plan_runs, run_ensemble
    from urban_sim.runs.executors import make_executor
    from urban_sim.runs.single import TS_COLUMNS
    from urban_sim.runs.store import ResultsStore
    from urban_sim.targets import scenario_targets

    scs = [s if isinstance(s, Scenario) else load(s) for s in scenarios]
    names = [s.name for s in scs]
    _check("scenarios", names, "give at least two scenarios", len(scs) >= 2)
    _check("scenarios", names, "scenario names must differ", len(set(names)) == len(names))
    _check("replicates", replicates, "must be an integer ≥ 1",
           isinstance(replicates, (int, np.integer)) and replicates >= 1)
    ref = reference or names[0]
    _check("reference", reference, f"not one of the scenarios {names}", ref in names)
    master = scs[0].seed if seed is None else seed
    specs = plan_runs(scs, int(replicates), master)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, make_executor(engine, workers=workers) as ex:
        raw = run_ensemble(specs, ResultsStore(tmp), ex)
    if raw.failures:
        raise UrbanSimError(f"{len(raw.failures)} of {len(specs)} runs failed; first: "
                            f"{raw.failures[0]['error']}")
    ts = raw.timeseries[TS_COLUMNS]
    targets = scenario_targets(scs[0], load_county_cached(scs[0].data_dir))
    end = int(ts["year"].max())
    diffs = paired_differences(ts, ref, [(i, p, end) for i, p in HEADLINE])
    return Comparison(scs, ts, scorecard(ts, targets), diffs, ref, master, raw)


def sensitivity(experiment: str | Path, *, folder: str | Path | None = None, workers: int = 1):
    """Run a global sensitivity analysis (Sobol or Morris, SALib) of an experiment file.

    Parameters
    ----------
    experiment : str or pathlib.Path
        Experiment file or a shipped experiment's name (``"levers_morris"``).
    folder : path, optional
        Output folder (default ``results/<experiment name>``); an interrupted call resumes.
    workers : int
        Worker processes (1: in this process).

    Returns
    -------
    The sensitivity result (``.indices`` or ``.morris`` tables, ``.meta``, ``.warnings``).
    """
    from urban_sim.analysis import sensitivity as sa
    from urban_sim.config.experiment import load_experiment
    from urban_sim.config.loader import SHIPPED_EXPERIMENTS, shipped_or_path
    from urban_sim.files import prepare_out_dir
    from urban_sim.runs.executors import make_executor

    exp = load_experiment(shipped_or_path(experiment, SHIPPED_EXPERIMENTS))
    out = prepare_out_dir(Path(folder) if folder else Path("results") / exp.name)
    kind = "sequential" if workers == 1 or exp.model != "county" else "processes"
    with make_executor(kind, workers=workers) as ex:
        return sa.run_sensitivity(exp, out, executor=ex)


def calibrate(experiment: str | Path, *, folder: str | Path | None = None, workers: int | None = None):
    """Calibrate behavioural parameters against census observations (method of simulated
    moments or ABC), as ``urban-sim calibrate``.

    Returns
    -------
    The calibration result (``.calibrator.params_``, ``.summary``, ``.out_dir``).
    """
    from urban_sim.calibration.calibrate import run_calibration
    from urban_sim.calibration.objective import load_experiment
    from urban_sim.config.loader import SHIPPED_EXPERIMENTS, shipped_or_path

    setup = load_experiment(shipped_or_path(experiment, SHIPPED_EXPERIMENTS), workers=workers)
    return run_calibration(setup, folder)


__all__ = ["Comparison", "Results", "calibrate", "compare", "configure", "load", "run", "sensitivity"]
