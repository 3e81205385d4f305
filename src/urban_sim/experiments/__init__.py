"""Replicated runs, seeds, executors and the results store."""

from urban_sim.experiments.runner import RunSet, run_scenario, simulate
from urban_sim.experiments.seeds import replicate_seeds

__all__ = ["RunSet", "replicate_seeds", "run_scenario", "simulate"]
