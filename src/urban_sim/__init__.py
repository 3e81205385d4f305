"""urban_sim: scenario simulation of county urbanization (agent-based, on Mesa).

The Python API for notebooks (see ``docs/tutorial.md``)::

    import urban_sim as us
    plan = us.load("plan", scale=0.1, settings={"policy.levers.land_reform": 0.8})
    res = us.run(plan, replicates=5)           # res.timeseries: tidy pandas DataFrame
    cmp = us.compare(["baseline", plan], replicates=5)
    cmp.save("results/my_comparison", lang="zh")

``load``, ``configure``, ``run``, ``compare``, ``sensitivity`` and ``calibrate`` are in
:mod:`urban_sim.api`; output names, units and labels in :mod:`urban_sim.model.outputs`.
"""

from urban_sim.api import Comparison, Results, calibrate, compare, configure, load, run, sensitivity
from urban_sim.config import Scenario, load_scenario
from urban_sim.errors import ConfigError, DataError, UrbanSimError
from urban_sim.model import CountyModel
from urban_sim.model.outputs import OUTPUTS, label, unit
from urban_sim.runs import run_scenario, simulate

__version__ = "0.1.0"

__all__ = [
    "OUTPUTS",
    "Comparison",
    "ConfigError",
    "CountyModel",
    "DataError",
    "Results",
    "Scenario",
    "UrbanSimError",
    "__version__",
    "calibrate",
    "compare",
    "configure",
    "label",
    "load",
    "load_scenario",
    "run",
    "run_scenario",
    "sensitivity",
    "simulate",
    "unit",
]
