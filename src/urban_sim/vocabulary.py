"""The shared words of the model, defined once: place codes, job sectors, task areas, census years.

Every layer may import this module (it imports nothing). Other modules re-export some of these
names for older imports (``config.schema.TASK_AREAS``, ``population.state.SECTORS``); new code
imports them from here.
"""

from __future__ import annotations

LOC_VILLAGE, LOC_TOWN, LOC_SEAT, LOC_OUTSIDE = 0, 1, 2, 3
"""Location codes of a person: home village, home township's centre, county seat, outside."""

LOC_NAMES: tuple[str, ...] = ("village", "town", "county_seat", "outside")
"""Name of each location code, in code order."""

SECTORS: tuple[str, ...] = ("agriculture", "industry", "construction", "services", "tourism",
                            "public")
"""Job sectors, in column order of the job matrix."""

TASK_AREAS: tuple[str, ...] = (
    "industry",
    "infrastructure",
    "ecology",
    "public_services",
    "living_environment",
    "heritage",
    "governance",
    "institutions",
)
"""The eight task areas of the Lin County action plan (临政办发〔2024〕37号), in plan order."""

CENSUS_YEARS: tuple[int, ...] = (2010, 2020)
"""Years for which a synthetic population can be built from census totals."""

__all__ = ["CENSUS_YEARS", "LOC_NAMES", "LOC_OUTSIDE", "LOC_SEAT", "LOC_TOWN", "LOC_VILLAGE",
           "SECTORS", "TASK_AREAS"]
