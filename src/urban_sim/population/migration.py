"""Moves of households and members: who applies, the capacity lottery, who moves, returns.

Domain functions called by the model's phases 6–8 (model.md §3); each takes the person and
household tables, parameters and the model's random generator and returns a small named result.
Locations are the codes of :mod:`urban_sim.population.state`; places of the capacity lottery are
township indices (0 = the county seat).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from urban_sim.population import choice as ch
from urban_sim.population import choice_kernels as kc
from urban_sim.population import allocation_kernels as ak
from urban_sim.population import kernels
from urban_sim.population import migration_kernels as mk
from urban_sim.population import vital_kernels as vk
from urban_sim.population.sparse_draws import uniforms_at
from urban_sim.population.state import Table

WORKING_AGE = (16, 59)
PUPIL_AGE = (6, 14)
ELDER_AGE = 65
"""Age from which a member of a whole moving household may stay behind (years; the elderly-stay
draw, ``urban_share_stay_elderly``)."""
CHOICE_AGE_CLASS = np.zeros(2**15, dtype=np.intp)
"""Age class of a member at the base for the location choice, by int16 age: 0 other,
1 working age, 2 aged 6 or 12 (school start or secondary school)."""
CHOICE_AGE_CLASS[WORKING_AGE[0]:WORKING_AGE[1] + 1] = 1
CHOICE_AGE_CLASS[[6, 12]] = 2
SMALL_BATCH = 4096
"""Below this many deciding households the choice's two batches of uniforms are drawn at once
(above, the second by :func:`urban_sim.population.sparse_draws.uniforms_at`, the movers' only)."""
_NONE = np.zeros(0)


@dataclass(slots=True)
class Applicants:
    """Households whose nested-logit choice differs from their base (phase 6 → phase 7).

    Attributes
    ----------
    hh, dest, current : numpy.ndarray, shape (n,)
        Household index, chosen alternative (``choice.ALT_*``) and current base code.
    u2 : numpy.ndarray, shape (n,)
        Second uniform per household (member-level variants).
    n_workers : numpy.ndarray, shape (n,)
        Members aged 16–59 at the base.
    school_trigger : numpy.ndarray of bool, shape (n,)
        A member at the base is 6 or 12.
    at_base : numpy.ndarray of bool, shape (n_persons,)
        Living persons at their household's base (all households).
    """

    hh: np.ndarray
    dest: np.ndarray
    current: np.ndarray
    u2: np.ndarray
    n_workers: np.ndarray
    school_trigger: np.ndarray
    at_base: np.ndarray


@dataclass(slots=True)
class MoveResult:
    """Accepted moves of one year (persons at full-population scale)."""

    refused_by_place: np.ndarray
    village_to_seat: float
    village_to_town: float
    to_outside: float
    to_seat: float


def presence(persons: Table, n_households: int) -> np.ndarray:
    """Whether each household has a living member at each location code, shape (n_hh, 4)."""
    pres = kernels.presence_flags(persons.hh, persons.loc, persons.alive, n_households)
    return pres[:-1].reshape(-1, 4)


def repair_bases(persons: Table, households: Table) -> None:
    """A household whose base has no living member moves its base to where its members are
    (the most urban in-county location among them; outside if none is in the county)."""
    H = households
    flags = kernels.presence_flags(persons.hh, persons.loc, persons.alive, len(H))
    mk.rebase_absent(flags, H.base, H.years_at_base)


def applicants(persons: Table, households: Table, places: ch.PlaceInputs, params: dict[str, float],
               rng: np.random.Generator) -> Applicants | None:
    """Nested-logit choice of every household with members at its in-county base
    (:func:`urban_sim.population.choice.choose_locations`).

    Parameters
    ----------
    persons, households : urban_sim.population.state.Table
        The model's agents (read only).
    places : urban_sim.population.choice.PlaceInputs
        This year's perceived place inputs.
    params : dict of str to float
        Model parameters (``parameters.csv`` and the scenario's overrides).
    rng : numpy.random.Generator
        Draws ``n`` uniforms for the choice, then a second batch of ``n`` of which only the
        movers' are read (the generator advances by ``2 n`` either way).

    Returns
    -------
    Applicants or None
        The households whose choice differs from their base; None if no household decides.
    """
    P, H = persons, households
    at, dec, *cols = kc.members_at_base(P.hh, P.loc, P.alive, P.age, H.base, CHOICE_AGE_CLASS,
                                            H.village, H.land_rented, H.land_tie,
                                            H.homestead_withdrawn, H.hukou_urban)
    if not len(dec):
        return None
    n = len(dec)
    deciders = ch.Deciders(*cols)
    if n < SMALL_BATCH:  # both batches at once: rng.random(2 n) = rng.random(n), rng.random(n)
        u = rng.random(2 * n)
        u, later = u[:n], u[n:]
    else:
        u, later = vk.uniforms(rng, n), _NONE
    choice = ch.choose_locations(deciders, places, params, u)
    movers, hhs, dest, base, n_workers, trigger, u2 = kc.movers(
        choice, dec, deciders.current, deciders.n_workers, deciders.school_trigger, later)
    if n >= SMALL_BATCH:  # = rng.random(n)[movers]: only the movers' are used
        u2 = uniforms_at(rng, n, movers, functools.partial(vk.uniforms, rng))
    return Applicants(hhs, dest, base, u2, n_workers, trigger, at)


def allocate_and_move(persons: Table, households: Table, app: Applicants, vacancy: np.ndarray,
                      weight: float, params: dict[str, float], rng: np.random.Generator) -> MoveResult:
    """Capacity lottery over dwellings and county-seat school seats, then the accepted moves.

    Ends with the bases repaired as by :func:`repair_bases`, looking only at the households
    these moves can have left without a member at their base (a partly moving household whose
    members at the base all left; a whole household none of whose members at the base moved):
    the tables must have their bases repaired before :func:`applicants`, with nothing moved
    since, as the model's step does (demography repairs them); ``tests/test_kernels_choice.py``
    compares with the full repair.

    Parameters
    ----------
    vacancy : numpy.ndarray, shape (K, 2)
        Free dwellings and free county-seat school seats by township place (full scale).
    weight : float
        Persons per agent.
    """
    p, P, H = params, persons, households
    hhs = app.hh
    # the applicants' members at their base (rows, positions among all at a base, number),
    # each one's applicant, age and sex; by applicant the kind of move if accepted (1 whole
    # household, 2 mother and pupils, 3 labour only), where to, the lottery's place; those
    # moving into a town centre or the county seat and their needs (a dwelling, school seats)
    pa, ia, n_at, k_a, age_a, female_a, kind, to, place, urban, need = ak.applicants_of(
        app.at_base, P.hh, P.age, P.female, hhs, app.dest, app.school_trigger, app.u2,
        app.n_workers, H.township, p["p_mother_with_pupil"], p["p_labour_only_outside"], PUPIL_AGE)
    ok = ch.capacity_lottery(place[urban], need, vacancy, weight, rng)
    # the refused get kind 0; the members of the moving households, and the old among them;
    # one uniform per person at a base (rng.random(n_at)) of which only the old members of
    # moving households use theirs; the moves; the whole moving households' new bases and the
    # households whose base can have lost its members
    ages = (PUPIL_AGE[0], PUPIL_AGE[1], WORKING_AGE[0], 49, ELDER_AGE)
    p_stay = p["urban_share_stay_elderly"]
    if n_at < SMALL_BATCH:  # drawn now: nothing else draws before the moves
        refused_by_place, counts, check = ak.refused_moves_settle(
            ok, urban, kind, place, len(vacancy), weight, k_a, age_a, ia, rng.random(n_at), p_stay,
            to, female_a, pa, P.loc, ages, hhs, H.base, H.years_at_base)
    else:
        refused_by_place, sub, old = ak.refused(ok, urban, kind, place, len(vacancy), weight, k_a,
                                                age_a, ia, ELDER_AGE)
        counts, check = ak.moves_and_settle(sub, k_a, kind, to, age_a, female_a, pa,
                                            uniforms_at(rng, n_at, old) < p_stay, P.loc, ages, hhs,
                                            H.base, H.years_at_base)
    w = weight
    result = MoveResult(refused_by_place, counts[0] * w, counts[1] * w, counts[2] * w, counts[3] * w)
    # then repair_bases(P, H), looking only where a base can have lost its members: the bases
    # were repaired before the choice (demography) and only these moves happened since, so
    # every other household still has a living member at its base or none alive (base
    # outside, 0 years, already so)
    if len(check):
        mk.repair_of(P.hh, P.loc, P.alive, check, H.base, H.years_at_base)
    return result


def return_migration(persons: Table, households: Table, params: dict[str, float],
                     talent_return_support: float, job_growth: float,
                     rng: np.random.Generator) -> tuple[int, int]:
    """Members living outside return with an age-, care- and job-dependent hazard
    (docs/ODD.md §7.9). Returns the number of returning agents and of those going to the seat."""
    p, P, H = params, persons, households
    coef = p["return_hazard_base"] * (1 + p["talent_return_hazard_effect"] * talent_return_support)
    return mk.returns(P.hh, P.loc, P.alive, P.age, H.base, H.township, H.years_at_base, coef,
                      p["return_gamma_age"], p["return_gamma_care"], p["return_gamma_job"] * job_growth,
                      p["returnee_share_village"], p["returnee_share_town"], rng, SMALL_BATCH)
