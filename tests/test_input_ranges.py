"""Codes and indices that compiled kernels read unchecked are validated where data enters.

The kernels index with unsigned integers (no wrap-around of negative values, no bounds check):
a negative household, location, age, sector or township in a start-state file, or a negative age
in a census table, must be a DataError at load time, not a read or write outside an array.
Also: the inline PCG64 lanes (``sparse_draws._LAST``) stay exact when threads interleave.
"""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pandas as pd
import pytest

from urban_sim.data import DEFAULT_DATA_DIR
from urban_sim.data.tables import load_county
from urban_sim.errors import DataError
from urban_sim.population import start_state as ss
from urban_sim.population.vital_kernels import uniforms


@pytest.mark.parametrize("column, row, value", [
    ("p_hh", 5, -1), ("p_loc", 9, -2), ("p_age", 3, -1), ("p_sector", 11, -2),
    ("p_mother", 2, -7), ("h_township", 4, -1), ("h_village", 8, -3), ("p_hh", 1, 10**9)])
def test_a_code_out_of_range_in_the_start_state_is_a_data_error(tmp_path, column, row, value):
    folder = tmp_path / "lin_county"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    npz = folder / "start_2020.npz"
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[column] = arrays[column].astype(np.int64)  # room for any value
    arrays[column][row] = value
    np.savez(npz, **arrays)
    with pytest.raises(DataError, match=rf"start_2020\.npz: column '{column[2:]}' is {value} "
                                        rf"in row {row}, outside"):
        ss.start_population(folder, 2020, 0.01, 10_000, 10_000, np.random.default_rng(0))


def test_the_shipped_start_state_is_in_range():
    with np.load(DEFAULT_DATA_DIR / "start_2020.npz") as z:
        arrays = {k: z[k] for k in z.files}
    persons = {k[2:]: v for k, v in arrays.items() if k.startswith("p_")}
    households = {k[2:]: v for k, v in arrays.items() if k.startswith("h_") and k != "h_weight"}
    ss.check_ranges("start_2020.npz", persons, households)  # no error
    assert {"hh", "mother", "loc", "age", "sector"} <= persons.keys()  # all checked
    assert {"township", "village", "base"} <= households.keys()


@pytest.mark.parametrize("name", ["age_structure", "vital_rates"])
def test_a_negative_age_in_a_table_is_a_data_error(tmp_path, name):
    folder = tmp_path / "lin_county"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    path = folder / f"{name}.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[3, "age_min"] = "-1"
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"{name}\.csv: line 5: age_min = -1, age_max = \d+; age_min must be ≥ 0"):
        load_county(folder)


def test_inline_draws_of_threads_interleaving_stay_exact():
    """pcg64_lanes keeps the state it read for set_pcg64_lanes (module-global, checked against
    the generator): models drawing in threads (compiled loops without the GIL) still get
    exactly rng.random(n) and the generator state after it."""
    n, rounds, k = 5000, 40, 4
    seeds = list(range(k))
    expect = []
    for s in seeds:
        rng = np.random.default_rng(s)
        expect.append(([rng.random(n) for _ in range(rounds)], rng.bit_generator.state))
    got = [None] * k
    start = threading.Barrier(k)

    def work(i):
        rng = np.random.default_rng(seeds[i])
        start.wait()
        got[i] = ([uniforms(rng, n) for _ in range(rounds)], rng.bit_generator.state)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (e_vals, e_state), (g_vals, g_state) in zip(expect, got, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(e_vals, g_vals, strict=True))
        assert g_state == e_state
