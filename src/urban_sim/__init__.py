"""urban_sim: scenario simulation of county urbanization (agent-based, on Mesa)."""

from urban_sim.config import Scenario, load_scenario
from urban_sim.errors import ConfigError, DataError, UrbanSimError
from urban_sim.runs import run_scenario, simulate
from urban_sim.model import CountyModel

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "CountyModel",
    "DataError",
    "Scenario",
    "UrbanSimError",
    "__version__",
    "load_scenario",
    "run_scenario",
    "simulate",
]
