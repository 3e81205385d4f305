"""The per-process cache of a data folder (data/tables.py): a worker reads the tables once, and
any edit, added or removed file is noticed on the next run."""

from __future__ import annotations

import os
import shutil

from urban_sim.data import DEFAULT_DATA_DIR
from urban_sim.data.tables import _signature, data_fingerprint, load_county_cached


def test_the_cache_is_shared_until_a_file_changes_or_is_added_or_removed(tmp_path):
    folder = tmp_path / "lin_county"
    shutil.copytree(DEFAULT_DATA_DIR, folder)
    first = load_county_cached(folder)
    assert load_county_cached(folder) is first
    sig, fp = _signature(folder), data_fingerprint(folder)
    assert {"parameters.csv", "start_2020.npz"} <= {name for name, _, _ in sig[1]}

    params = folder / "parameters.csv"
    params.write_text(params.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _signature(folder) != sig and data_fingerprint(folder) != fp
    second = load_county_cached(folder)
    assert second is not first and load_county_cached(folder) is second

    sig = _signature(folder)
    (folder / "extra.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert ("extra.csv" in {name for name, _, _ in _signature(folder)[1]}) and _signature(folder) != sig
    os.remove(folder / "extra.csv")
    assert _signature(folder) == sig


def test_a_missing_folder_has_an_empty_signature(tmp_path):
    assert _signature(tmp_path / "nowhere")[1] == ()
