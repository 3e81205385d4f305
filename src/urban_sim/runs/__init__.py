"""Runs: seeds, executors, the results store and the one ensemble runner every workflow uses.

See :mod:`urban_sim.runs.ensemble` for the API workflows submit their runs to.
"""

from urban_sim.runs.ensemble import EnsembleResult, RunSpec, plan_runs, run_ensemble, run_id
from urban_sim.runs.executors import make_executor
from urban_sim.runs.runner import run_many, run_scenario
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.runs.single import simulate
from urban_sim.runs.store import MemoryStore, ResultsStore

__all__ = ["EnsembleResult", "MemoryStore", "ResultsStore", "RunSpec", "make_executor",
           "plan_runs", "replicate_seeds", "run_ensemble", "run_id", "run_many", "run_scenario",
           "simulate"]
