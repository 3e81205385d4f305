"""The compiled person-row kernels give exactly what their NumPy versions give."""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.model.tally import AGE_CLASS, N_AGE_CLASSES
from urban_sim.population import kernels as kn

pytestmark = pytest.mark.skipif(not kn.COMPILED, reason="numba not installed")


def _persons(n: int, n_hh: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"hh": rng.integers(0, n_hh, n).astype(np.int32),
            "loc": rng.integers(0, 4, n).astype(np.int8),
            "alive": rng.random(n) < 0.9,
            "age": rng.integers(0, 111, n).astype(np.int16)}


@pytest.mark.parametrize(("n", "n_hh", "seed"), [(0, 3, 0), (1, 1, 1), (500, 120, 2), (5000, 900, 3)])
def test_compiled_kernels_equal_numpy(n, n_hh, seed):
    P = _persons(n, n_hh, seed)
    rng = np.random.default_rng(seed + 10)
    K, n_vil = 5, 17
    township = rng.integers(0, K, n_hh).astype(np.int16)
    village = rng.integers(0, n_vil, n_hh).astype(np.int32)
    calls = [
        (kn.presence_flags, (P["hh"], P["loc"], P["alive"], n_hh)),
        (kn.counts_and_presence, (P["loc"], P["hh"], township, P["alive"], P["age"], AGE_CLASS,
                                  K, N_AGE_CLASSES, n_hh)),
        (kn.counts_by_sector, (rng.integers(-1, 8, n).astype(np.int8), P["alive"], 8)),
        (kn.counts_away_by_village, (P["loc"], P["hh"], village, P["alive"], 0, n_vil)),
        (kn.living_with_older_generation, (P["hh"], P["alive"], P["age"], n_hh, 22, 35, 18)),
        (kn.households_absent_from_base,
         (kn.presence_flags(P["hh"], P["loc"], P["alive"], n_hh)[:-1], township.astype(np.int8) % 4)),
        (kn.households_by_township_and_location,
         (kn.presence_flags(P["hh"], P["loc"], P["alive"], n_hh)[:-1], township, K)),
    ]
    for fn, args in calls:
        ours, ref = fn(*args, compiled=True), fn(*args, compiled=False)
        for a, b in zip(ours if isinstance(ours, tuple) else (ours,),
                        ref if isinstance(ref, tuple) else (ref,), strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, fn.__name__
            assert np.array_equal(a, b), fn.__name__


def test_kernels_see_the_dead_and_the_spare_cell():
    hh = np.array([0, 0, 1], np.int32)
    loc = np.array([2, 3, 0], np.int8)
    alive = np.array([True, False, True])
    pres = kn.presence_flags(hh, loc, alive, 2)
    assert pres.tolist() == [False, False, True, False, True, False, False, False, True]


def test_leavers_of_a_small_case():
    hh = np.array([0, 0, 1, 1, 1], np.int32)
    age = np.array([25, 50, 30, 40, 80], np.int16)
    alive = np.array([True, True, True, True, False])
    assert kn.living_with_older_generation(hh, alive, age, 2, 22, 35, 18).tolist() == [0]


def test_radix_order_of_the_start_state_draw_is_argsort():
    from urban_sim.population.start_state import _order

    rng = np.random.default_rng(5)
    strata = rng.integers(0, 300, 20_000).astype(float)
    for _ in range(5):
        key = strata + rng.random(len(strata))
        assert np.array_equal(_order(key), np.argsort(key))
    key[10] = key[20]  # a tie: NumPy's own order
    assert np.array_equal(_order(key), np.argsort(key))
    assert _order(np.zeros(0)).tolist() == []
