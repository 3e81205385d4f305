"""Land, homestead, hukou and training institutions acting on households and persons (phase 9).

Rates and lever effects are documented in docs/ODD.md §7.10; every number comes from
parameters.csv or the scenario's levers.
"""

from __future__ import annotations

import math

import numpy as np

from urban_sim.policy import institution_kernels as ik
from urban_sim.policy import draws
from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_VILLAGE, Table


TRAINING_AGE = (16, 45)
"""Ages (years, inclusive) of the candidates for vocational training places."""

FUSED_MAX_PERSONS = 400_000
"""Largest person table (rows) whose phase runs in one compiled call
(:func:`land_and_institutions`): beyond it (scale ≳ 0.5) NumPy's vectorised uniforms are
faster than the compiled PCG64 steps (≈ 5.6 against 5.9 ns a draw with its write), and the
fixed cost that the one call saves (≈ 17 µs a year) no longer counts."""

WORKING_AGE = (16, 64)
"""Ages (years, inclusive) of the members whose farming keeps a household's land in use."""


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

    Notes
    -----
    Households with a land tie and no working-age member (16–64) farming in the village rent
    their land out; ``homesteads`` households with a land tie and a base outside the village
    withdraw their homestead (chosen without replacement); rural-hukou households at the
    county seat for 2 years or more convert; training lapses; untrained residents aged 16–45
    take the training places (both chosen without replacement, as ``rng.choice`` chooses).
    The draws are in this order, each selection in row order (the selections, draws and
    writes in one compiled call with NumPy's draws, :func:`urban_sim.policy.draws.land_phase`,
    for a PCG64 generator, expected counts in [0, 2⁵³) and at most
    :data:`FUSED_MAX_PERSONS` persons; else the selections compiled,
    :mod:`urban_sim.policy.institution_kernels`, and NumPy's draws, all before the writes:
    no write changes a later draw).
    """
    p, P, H, lv = params, persons, households, levers
    home_expected = homesteads / weight
    train_expected = training_places * (0.5 + lv.vocational_training_intensity) / weight
    rent_rate = p["land_rent_out_rate"] * (1 + p["land_reform_rent_boost"] * lv.land_reform)
    hukou_rate = p["hukou_conversion_rate"] * (0.5 + lv.hukou_service_access)
    state = draws.pcg64_views(rng)
    if state is not None and 0.0 <= home_expected < 2.0**53 and 0.0 <= train_expected < 2.0**53 \
            and len(P) <= FUSED_MAX_PERSONS:
        draws.land_phase(state, P, H, LOC_VILLAGE, LOC_OUTSIDE, LOC_SEAT, WORKING_AGE,
                         TRAINING_AGE, rent_rate, home_expected, hukou_rate,
                         p["training_expiry_rate"], train_expected)  # the same draws, compiled
        return
    rent, cand, hukou, was_trained, untrained = ik.selections(
        P, H, LOC_VILLAGE, LOC_OUTSIDE, LOC_SEAT, WORKING_AGE, TRAINING_AGE)
    u_rent = rng.random(len(rent))  # the draws in the order of the rule, the writes after them
    k = n_agents(home_expected, rng)
    chosen = draws.choice(rng, cand, min(k, len(cand))) if k and len(cand) else cand[:0]
    u_hukou = rng.random(len(hukou))
    u_lapse = rng.random(len(was_trained))
    k = n_agents(train_expected, rng)
    # the untrained before this year's lapses and those whose training lapsed (if k)
    cand = draws.apply(P, H, rent, u_rent, rent_rate, chosen, hukou, u_hukou, hukou_rate,
                       was_trained, u_lapse, p["training_expiry_rate"], untrained, LOC_OUTSIDE,
                       TRAINING_AGE, bool(k))
    if k and len(cand):
        P.trained[draws.choice(rng, cand, min(k, len(cand)))] = True
