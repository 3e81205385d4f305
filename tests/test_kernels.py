"""The compiled person-row kernels give exactly what the NumPy rules they replaced give (the
rules are kept here as the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from urban_sim.model.tally import AGE_CLASS, N_AGE_CLASSES
from urban_sim.population import kernels as kn


def _presence_numpy(hh, loc, alive, n_households):
    key = np.multiply(hh, 4, dtype=np.intp)
    key += loc
    np.putmask(key, ~alive, 4 * n_households)  # the dead mark a spare last cell
    pres = np.zeros(4 * n_households + 1, dtype=bool)
    pres[key] = True
    return pres


def _place_age_numpy(loc, hh, township, alive, age, age_class, K, n_classes, n_households):
    key = np.multiply(loc, K, dtype=np.intp)
    key += township.take(hh)
    np.putmask(key, ~alive, 4 * K)
    key *= n_classes
    key += age_class.take(age)
    counts = np.bincount(key, minlength=(4 * K + 1) * n_classes)
    return counts, _presence_numpy(hh, loc, alive, n_households)


def _sector_numpy(sector, alive, n_codes):
    return np.bincount(sector[alive].astype(np.intp) + 1, minlength=n_codes + 1)


def _away_numpy(loc, hh, village, alive, home, n_villages):
    away = np.flatnonzero(alive & (loc != home))
    key = np.multiply(village.take(hh.take(away)), 4, dtype=np.intp)
    key += loc.take(away)
    return np.bincount(key, minlength=4 * n_villages)


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
        (kn.presence_flags, _presence_numpy, (P["hh"], P["loc"], P["alive"], n_hh)),
        (kn.counts_and_presence, _place_age_numpy, (P["loc"], P["hh"], township, P["alive"],
                                                    P["age"], AGE_CLASS, K, N_AGE_CLASSES, n_hh)),
        (kn.counts_by_sector, _sector_numpy, (rng.integers(-1, 8, n).astype(np.int8), P["alive"], 8)),
        (kn.counts_away_by_village, _away_numpy, (P["loc"], P["hh"], village, P["alive"], 0, n_vil)),
    ]
    for fn, reference, args in calls:
        ours, ref = fn(*args), reference(*args)
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


def _probe_loop(x):
    return x + 1


def test_uncached_kernels_lists_a_kernel_until_it_is_compiled_and_cached():
    import os

    kernel = kn._jit(_probe_loop)
    try:
        index = kernel._cache._cache_file._index_path
        if os.path.exists(index):
            os.remove(index)
        assert "_probe_loop" in kn.uncached_kernels()
        assert kernel(1) == 2
        assert "_probe_loop" not in kn.uncached_kernels()
    finally:
        kn.COMPILED_KERNELS.remove(kernel)


def test_the_compile_notice_counts_the_kernels_and_ignores_a_few_rare_ones():
    from urban_sim.cli.common import COMPILE_NOTICE_MIN, compile_notice

    assert compile_notice([]) is None
    assert compile_notice(["_fill_loop", "np_sum", "_copy_households_loop"]) is None  # rare paths
    assert compile_notice(["k"] * (COMPILE_NOTICE_MIN - 1)) is None
    notice = compile_notice(["k"] * 76)
    assert "up to 76 numerical kernels" in notice and "about 40 s" in notice
