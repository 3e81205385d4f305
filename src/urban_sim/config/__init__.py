"""Scenario schemas and loading."""

from urban_sim.config.loader import (
    dump_scenario, load_scenario, nearest, read_mapping, with_overrides,
)
from urban_sim.config.schema import CENSUS_YEARS, TASK_AREAS, Scenario

__all__ = [
    "CENSUS_YEARS",
    "TASK_AREAS",
    "Scenario",
    "dump_scenario",
    "load_scenario",
    "nearest",
    "read_mapping",
    "with_overrides",
]
