"""The compiled land-and-institutions loops give exactly what the former NumPy rule gave.

The NumPy rule (``land_and_institutions`` as it was before the compiled loops of
``urban_sim.policy.institution_kernels``) is kept here as the reference: same seed, same
draws in the same order, same resulting columns and generator state.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from urban_sim.policy.institutions import land_and_institutions, n_agents
from urban_sim.population.state import LOC_OUTSIDE, LOC_SEAT, LOC_VILLAGE, Table


def _ref_rule(persons, households, params, levers, homesteads, training_places, weight, rng):
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
    trained = np.flatnonzero(P.trained)
    P.trained[trained[rng.random(len(trained)) < p["training_expiry_rate"]]] = False
    k = n_agents(training_places * (0.5 + lv.vocational_training_intensity) / weight, rng)
    cand = np.flatnonzero(P.alive & ~P.trained & (P.loc != LOC_OUTSIDE) & (P.age >= 16) & (P.age <= 45))
    if k and len(cand):
        P.trained[rng.choice(cand, size=min(k, len(cand)), replace=False)] = True


PARAMS = {"land_rent_out_rate": 0.2, "land_reform_rent_boost": 0.5, "hukou_conversion_rate": 0.3,
          "training_expiry_rate": 0.25}
LEVERS = SimpleNamespace(land_reform=1.0, hukou_service_access=0.4,
                         vocational_training_intensity=0.7)


def _state(n, n_hh, seed, years_max=5):  # small: rules that test years ≥ 2 see their boundary
    rng = np.random.default_rng(seed)
    persons = Table({
        "age": rng.integers(0, 90, n).astype(np.int16), "alive": rng.random(n) < 0.9,
        "loc": rng.integers(0, 4, n).astype(np.int8),
        "hh": np.sort(rng.integers(0, max(n_hh, 1), n)).astype(np.int32),
        "trained": rng.random(n) < 0.2})
    households = Table({
        "base": rng.integers(0, 4, n_hh).astype(np.int8), "hukou_urban": rng.random(n_hh) < 0.3,
        "land_tie": rng.random(n_hh) < 0.7, "land_rented": rng.random(n_hh) < 0.2,
        "homestead_withdrawn": rng.random(n_hh) < 0.1,
        "years_at_base": rng.integers(0, years_max + 1, n_hh).astype(np.int16)})
    return persons, households


def _run_both(n, n_hh, seed, homesteads, places, weight=1.0, bits=np.random.PCG64, **kw):
    # with a PCG64 the phase's draws are compiled (policy/draws.py), else NumPy's; a 32-bit
    # draw before the phase leaves half of a 64-bit output kept for the next
    out = []
    for fn in (_ref_rule, land_and_institutions):
        P, H = _state(n, n_hh, seed, **kw)
        rng = np.random.Generator(bits(seed + 7))
        rng.integers(0, 100, seed % 2)
        fn(P, H, PARAMS, LEVERS, homesteads, places, weight, rng)
        state = rng.bit_generator.state
        out.append((P.columns(), H.columns(), (state, rng.random(3), rng.integers(0, 9, 3))))
    return out


def _same(a, b):  # bit-generator states (dicts, arrays) equal
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b


@pytest.mark.parametrize(("n", "n_hh", "seed", "homesteads", "places"), [
    (0, 0, 0, 5.0, 5.0),            # nobody at all
    (1, 1, 1, 1.0, 1.0),
    (800, 200, 2, 12.5, 40.3),
    (20_000, 5000, 3, 300.0, 900.0),
    (2000, 500, 4, 0.0, 0.0),       # no homestead withdrawal, no training places: no choice
    (2000, 500, 5, 1e6, 1e6),       # more places than candidates: everyone eligible chosen
    (60_000, 15_000, 6, 40.5, 900.0),  # > 10,000 candidates, > 1/50 drawn: NumPy's shuffle
    (800, 200, 7, 12.5, 40.3),      # an odd seed: a 32-bit half kept before the phase
])
@pytest.mark.parametrize("bits,fused", [(np.random.PCG64, True), (np.random.PCG64, False),
                                        (np.random.MT19937, False)])
def test_institutions_equal_the_numpy_rule(n, n_hh, seed, homesteads, places, bits, fused,
                                           monkeypatch):
    # PCG64: the phase in one compiled call, or (beyond FUSED_MAX_PERSONS) NumPy's uniforms
    # with the compiled picks; MT19937: NumPy's draws
    import urban_sim.policy.institutions as inst

    monkeypatch.setattr(inst, "FUSED_MAX_PERSONS", 1 << 62 if fused else -1)
    (P_r, H_r, next_r), (P_o, H_o, next_o) = _run_both(n, n_hh, seed, homesteads, places,
                                                       bits=bits)
    for ref, ours in ((P_r, P_o), (H_r, H_o)):
        for k in ref:
            assert ref[k].dtype == ours[k].dtype and np.array_equal(ref[k], ours[k]), k
    assert _same(next_r[0], next_o[0])  # the generator's state (the 32-bit half kept included)
    assert np.array_equal(next_r[1], next_o[1]) and np.array_equal(next_r[2], next_o[2])


def test_institutions_change_something_and_cap_years():
    P0, H0 = _state(20_000, 5000, 9, years_max=1000)
    (P_r, H_r, _), (P_o, H_o, _) = _run_both(20_000, 5000, 9, 300.0, 900.0, years_max=1000)
    assert H_o["years_at_base"].max() == 1000
    for k in ("land_rented", "homestead_withdrawn", "hukou_urban", "land_tie"):
        assert not np.array_equal(H_o[k], H0.columns()[k]), k
    assert (P_o["trained"] & ~P0.trained).any() and (~P_o["trained"] & P0.trained).any()
