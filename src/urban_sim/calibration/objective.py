"""The simulated-moments objective: the runs of a parameter vector and their distance.

``D(θ) = Σ_i ((m̄_i(θ) − y_i) / sd_i)²`` (rows with an ``sd``) ``+ Σ_i w_i ((m̄_i(θ) − y_i) /
y_i)²`` (rows with a ``weight``), where ``m̄_i(θ)`` is the mean over replicates run with the same
seeds for every θ (common random numbers), so D is a deterministic function of θ.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.runs.ensemble import RunSpec
from urban_sim.runs.single import simulate

from .observations import distance


def observed_only(frame: pd.DataFrame, indicators: tuple[str, ...]) -> pd.DataFrame:
    """The rows of a run's timeseries with one of ``indicators`` (run in the worker)."""
    return frame[frame["indicator"].isin(indicators)].reset_index(drop=True)


@dataclass(frozen=True)
class Objective:
    """The method-of-simulated-moments distance of a parameter vector.

    Parameters
    ----------
    scenario : Scenario
        Start year, end year, scale and seed already set.
    names : tuple of str
        Free parameters, in the order of ``x``.
    fixed : dict[str, float]
    observations : pandas.DataFrame
        The rows the distance uses (fit rows only).
    seeds : tuple of numpy.random.SeedSequence
        One per replicate; the same for every ``x``.

    Notes
    -----
    Calibrators submit :meth:`specs` to the ensemble runner (:mod:`urban_sim.runs`), so every
    model run has a run id and is stored as soon as it ends; an interrupted calibration resumes
    without redoing finished runs. ``objective(x)`` runs the replicates in this process
    (tests, quick checks). Picklable.
    """

    scenario: Scenario
    names: tuple[str, ...]
    fixed: dict[str, float]
    observations: pd.DataFrame
    seeds: tuple

    def parameters(self, x) -> dict[str, float]:
        """Scenario parameters for vector ``x``, shape (len(names),)."""
        return {**self.fixed, **{n: float(v) for n, v in zip(self.names, x, strict=True)}}

    def scenario_at(self, x) -> Scenario:
        """The scenario with parameters ``x`` (on top of the scenario's own parameters)."""
        params = {**self.scenario.parameters, **self.parameters(x)}
        return self.scenario.model_copy(update={"parameters": params})

    def specs(self, x) -> list[RunSpec]:
        """The runs of ``x``: one per replicate seed (run ids hash the parameters); each run
        keeps only the observed indicators (the simulated moments)."""
        sc = self.scenario_at(x)
        keep = functools.partial(observed_only,
                                 indicators=tuple(sorted(set(self.observations["indicator"]))))
        return [RunSpec.make(sc, s, k, reduce=keep) for k, s in enumerate(self.seeds)]

    def distance(self, simulated: pd.DataFrame) -> float:
        """D of the replicates of one ``x`` (long timeseries)."""
        keep = simulated["indicator"].isin(set(self.observations["indicator"]))
        return distance(self.observations, simulated[keep])

    def simulate(self, x, *, all_indicators: bool = False) -> pd.DataFrame:
        """Long timeseries of all replicates at ``x``, run in this process."""
        sc = self.scenario_at(x)
        keep = set(self.observations["indicator"])
        frames = []
        for k, seed in enumerate(self.seeds):
            ts = simulate(sc, seed, k)
            frames.append(ts if all_indicators else ts[ts["indicator"].isin(keep)])
        return pd.concat(frames, ignore_index=True)

    def __call__(self, x) -> float:
        return self.distance(self.simulate(x))
