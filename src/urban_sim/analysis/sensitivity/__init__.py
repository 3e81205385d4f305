"""Global sensitivity analysis: the bridge between experiment files, the model and SALib.

Modules: :mod:`.design` (SALib samples mapped to factor values), :mod:`.outputs` (scalar outputs
of a run), :mod:`.indices` (Sobol / Morris indices with their guards), :mod:`.workflow` (scenario
per design point, runs, saved tables), :mod:`.levers` (lever ranking over uncertainty
scenarios), :mod:`.discovery` (PRIM scenario discovery). Reports: :mod:`urban_sim.reports.sensitivity`.
"""

from urban_sim.analysis.sensitivity.design import (
    Design, SensitivityWarning, make_design, sobol_rows,
)
from urban_sim.analysis.sensitivity.indices import (
    NOISE_SHARE, SensitivityResult, analyse, is_constant, noise_table, noisy_outputs,
    sobol_table,
)
from urban_sim.analysis.sensitivity.outputs import (
    HEADLINE, county_outputs, default_outputs, target_score,
)
from urban_sim.analysis.sensitivity.workflow import (
    base_scenario, dry_run, estimate_seconds_per_run, evaluate, point_overrides, reanalyse,
    run_sensitivity, save_results, write_design,
)

__all__ = [
    "HEADLINE", "NOISE_SHARE", "Design", "SensitivityResult", "SensitivityWarning", "analyse",
    "base_scenario", "county_outputs", "default_outputs", "dry_run", "estimate_seconds_per_run",
    "evaluate", "is_constant", "make_design", "noise_table", "noisy_outputs", "point_overrides",
    "reanalyse", "run_sensitivity", "save_results", "sobol_rows", "sobol_table", "target_score",
    "write_design",
]
