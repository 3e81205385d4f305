"""Runs: seeds, executors, the results store and the one ensemble runner every workflow uses."""

from urban_sim.runs.runner import RunSet, run_scenario
from urban_sim.runs.seeds import replicate_seeds
from urban_sim.runs.single import simulate

__all__ = ["RunSet", "replicate_seeds", "run_scenario", "simulate"]
