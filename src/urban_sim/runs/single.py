"""One replicate of one scenario in this process: the unit every workflow runs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from urban_sim.config.schema import Scenario
from urban_sim.data.tables import CountyData
from urban_sim.model.county import CountyModel

TS_COLUMNS = ["scenario", "replicate", "year", "place", "indicator", "value"]


def simulate(scenario: Scenario, seed: np.random.SeedSequence, replicate: int = 0,
             data: CountyData | None = None) -> pd.DataFrame:
    """Run one replicate of a scenario and return its long-format timeseries.

    The model is released from Mesa's registry afterwards, so a worker's memory does not grow
    with the number of runs it has done.
    """
    model = CountyModel(scenario, data=data, seed=seed)
    try:
        return model.run(replicate=replicate)  # the timeseries, named after model.scenario
    finally:
        model.close()
