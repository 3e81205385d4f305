"""The capacity allocation's compiled member and move rules at the age limits of their rules.

``test_kernels_choice.py`` compares them with the NumPy rule on tables with ages spread over
0–94, where only a few households move a mother and pupils and hardly a member is exactly at a
limit (6 and 14 for pupils, 20 and 55 for a mother, 16 and 49 for labour, 65 for the elderly);
here every member is at or next to one of those limits and most applicants move a mother and
pupils or labour only, so a limit moved by one year changes who moves.
"""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.population import choice as ch
from urban_sim.population import migration as mg
from urban_sim.population.state import LOC_OUTSIDE, Table

from .test_kernels_choice import allocations_agree

LIMIT_AGES = (5, 6, 7, 13, 14, 15, 16, 17, 19, 20, 21, 48, 49, 50, 54, 55, 56, 64, 65, 66)
"""Ages at and next to the limits of the allocation's rules (migration.PUPIL_AGE,
WORKING_AGE, the mother's 20–55, the elderly's 65)."""


@pytest.mark.parametrize("seed", range(3))
def test_allocation_at_the_age_limits_equals_the_numpy_rule(lin_data, seed):
    rng = np.random.default_rng(seed)
    n_hh, K = 600, 4
    size = rng.integers(2, 7, n_hh)
    hh = np.repeat(np.arange(n_hh), size).astype(np.int32)
    n = len(hh)
    base = rng.integers(0, 3, n_hh).astype(np.int8)  # in the county: every household decides
    P = Table({"hh": hh, "loc": base[hh].copy(), "alive": np.ones(n, bool),
               "age": rng.choice(LIMIT_AGES, n).astype(np.int16), "female": rng.random(n) < 0.6})
    H = Table({"base": base, "township": rng.integers(0, K, n_hh).astype(np.int16),
               "years_at_base": rng.integers(0, 5, n_hh).astype(np.int16)})
    at = P.alive & (P.loc == H.base[P.hh])
    hhs = np.arange(n_hh)
    cur = H.base.astype(np.int64)
    # to a town centre or the seat (mother and pupils) or outside (labour only), never staying
    dest = np.where(rng.random(n_hh) < 0.6, np.where(cur == ch.ALT_SEAT, ch.ALT_TOWN, ch.ALT_SEAT),
                    ch.ALT_OUTSIDE).astype(np.int8)
    n_work = np.bincount(P.hh[at & (P.age >= 16) & (P.age <= 59)], minlength=n_hh)
    params = {**lin_data.parameters, "p_mother_with_pupil": 0.8, "p_labour_only_outside": 0.8,
              "urban_share_stay_elderly": 0.5}
    vac = np.stack([np.full(K, 1e9), np.full(K, np.inf)], axis=1)  # nobody refused
    u2 = rng.random(n_hh)
    app = mg.Applicants(hhs, dest, cur, u2, n_work, np.ones(n_hh, bool), at)
    ref, t_ours = allocations_agree(P, H, app, vac, params, seed + 10)
    moved = t_ours[0].loc != P.loc
    # mothers and pupils, labour-only movers and staying members are all there
    assert moved.sum() > 300 and (~moved).sum() > 300 and ref.to_outside > 0
    assert (H.base != LOC_OUTSIDE).all() and (t_ours[1].base != H.base).sum() > 20
