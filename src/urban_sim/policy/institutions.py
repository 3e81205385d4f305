"""Land, homestead, hukou and training institutions acting on households and persons (phase 9).

Rates and lever effects are documented in docs/ODD.md §7.10; every number comes from
parameters.csv or the scenario's levers.
"""

from __future__ import annotations

import math

import numpy as np

from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_VILLAGE, Table


def n_agents(expected: float, rng: np.random.Generator) -> int:
    """Number of agents for an expected count in agent units, by unbiased stochastic rounding.

    ``floor(x)`` plus one with probability ``x - floor(x)`` (no draw when ``x`` is whole), so at
    any scale the weighted total over years equals the full-scale count in expectation;
    ``round(x)`` would make a rare event (x < 0.5 every year) never happen at small scale.
    """
    whole = math.floor(expected)
    frac = expected - whole
    return int(whole) + int(frac > 0 and rng.random() < frac)


def land_and_institutions(persons: Table, households: Table, params: dict[str, float], levers,
                          homesteads: float, training_places: float, weight: float,
                          rng: np.random.Generator) -> None:
    """Land renting, homestead withdrawal, hukou conversion, training expiry and training.

    Parameters
    ----------
    levers : urban_sim.config.schema.Levers
        Levers in force this year.
    homesteads : float
        Homestead withdrawals completed this year (full scale).
    training_places : float
        Annual training places (stock ``training_places``, full scale).
    weight : float
        Persons per agent.
    """
    p, P, H, lv = params, persons, households, levers
    alive = np.flatnonzero(P.alive & (P.loc == LOC_VILLAGE) & (P.age >= 16) & (P.age <= 64))
    farming = np.bincount(P.hh.take(alive), minlength=len(H)) > 0
    cand = np.flatnonzero(H.land_tie & ~H.land_rented & ~farming)
    rate = p["land_rent_out_rate"] * (1 + p["land_reform_rent_boost"] * lv.land_reform)
    H.land_rented[cand[rng.random(len(cand)) < rate]] = True
    k = n_agents(homesteads / weight, rng)
    cand = np.flatnonzero(H.land_tie & ~H.homestead_withdrawn & (H.base != LOC_VILLAGE))
    if k and len(cand):
        chosen = rng.choice(cand, size=min(k, len(cand)), replace=False)
        H.homestead_withdrawn[chosen] = True
        H.land_tie[chosen] = False
    cand = np.flatnonzero((H.base == LOC_SEAT) & ~H.hukou_urban & (H.years_at_base >= 2))
    conv = rng.random(len(cand)) < p["hukou_conversion_rate"] * (0.5 + lv.hukou_service_access)
    H.hukou_urban[cand[conv]] = True
    H.years_at_base[:] = np.minimum(H.years_at_base + 1, 1000)
    trained = np.flatnonzero(P.trained)  # skills and certificates lapse (training expires)
    P.trained[trained[rng.random(len(trained)) < p["training_expiry_rate"]]] = False
    k = n_agents(training_places * (0.5 + lv.vocational_training_intensity) / weight, rng)
    cand = np.flatnonzero(P.alive & ~P.trained & (P.loc != LOC_OUTSIDE) & (P.age >= 16) & (P.age <= 45))
    if k and len(cand):
        P.trained[rng.choice(cand, size=min(k, len(cand)), replace=False)] = True
