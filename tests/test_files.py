"""Atomic writers: complete or absent, mode from the umask, JSON manifests; shared vocabulary."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest

from urban_sim.errors import did_you_mean
from urban_sim.files import atomic_write, write_json, write_table, write_text


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_mode_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        paths = [write_text(tmp_path / "a.txt", "x"), write_json(tmp_path / "m.json", {"k": 1}),
                 write_table(tmp_path / "t.parquet", pd.DataFrame({"a": [1]})),
                 write_table(tmp_path / "t.csv", pd.DataFrame({"a": [1]}))]
    finally:
        os.umask(old)
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, p


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    path = write_text(tmp_path / "a.txt", "old")

    def broken(p):
        p.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text(encoding="utf-8") == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_write_json_keeps_chinese_text(tmp_path):
    p = write_json(tmp_path / "m.json", {"name": "临县", "n": 2})
    assert "临县" in p.read_text(encoding="utf-8") and json.loads(p.read_text("utf-8"))["n"] == 2


def test_did_you_mean_is_the_one_suggestion():
    assert did_you_mean("land_reforn", ["land_reform", "training"]) == " (did you mean 'land_reform'?)"
    assert did_you_mean("zzz", ["land_reform"]) == ""


def test_vocabulary_is_the_one_definition():
    from urban_sim import vocabulary as v
    from urban_sim.config.schema import TASK_AREAS
    from urban_sim.population.state import LOC_SEAT, SECTORS

    assert TASK_AREAS is v.TASK_AREAS and SECTORS is v.SECTORS and LOC_SEAT == v.LOC_SEAT == 2
    assert v.LOC_NAMES[v.LOC_SEAT] == "county_seat" and len(v.TASK_AREAS) == 8
