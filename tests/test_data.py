"""Input tables: encodings (C12), checks, replaceable files."""

from __future__ import annotations

import pandas as pd
import pytest

from urban_sim.data import load_county, read_csv
from urban_sim.errors import DataError

ROWS = "年份,县,常住人口\n2000,临县,600000\n2010,临县,579077\n2020,临县,394713\n"


def test_utf8_bom_and_gbk_files_load_to_identical_tables(tmp_path):
    paths = {}
    for name, data in {"utf8": ROWS.encode("utf-8"), "bom": ROWS.encode("utf-8-sig"),
                       "gbk": ROWS.encode("gbk")}.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_bytes(data)
    frames = {k: read_csv(p) for k, p in paths.items()}
    assert list(frames["bom"].columns)[0] == "年份"
    pd.testing.assert_frame_equal(frames["utf8"], frames["bom"])
    pd.testing.assert_frame_equal(frames["utf8"], frames["gbk"])
    assert frames["gbk"]["常住人口"].tolist() == [600000, 579077, 394713]


def test_undecodable_file_names_file_and_option(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_bytes(b"\xff\xfe\x00\xd8 broken \x81\x00")
    with pytest.raises(DataError, match=r"bad.csv: cannot decode .*'encoding' option"):
        read_csv(f)


def test_data_checks_name_file_and_problem(tmp_path, tiny_dir):
    vil = pd.read_csv(tiny_dir / "villages.csv")
    vil.loc[0, "township_id"] = 1
    vil.to_csv(tiny_dir / "villages.csv", index=False)
    with pytest.raises(DataError, match=r"villages.csv: villages per township \[0, 2, 1\]"):
        load_county(tiny_dir)
    census = pd.read_csv(tiny_dir / "census.csv")
    census.loc[0, "status"] = "guessed"
    census.to_csv(tiny_dir / "census.csv", index=False)
    with pytest.raises(DataError, match=r"census.csv: row 2: status 'guessed'"):
        load_county(tiny_dir)
    census.loc[0, "status"] = "observed"
    census.to_csv(tiny_dir / "census.csv", index=False)
    (tiny_dir / "stocks.csv").unlink()
    with pytest.raises(DataError, match="stocks.csv: file not found"):
        load_county(tiny_dir)


def test_every_shipped_table_has_source_and_status_on_every_row(lin_data):
    for name in ("census", "townships", "villages", "age_structure", "household_size",
                 "vital_rates", "plan_targets", "stocks", "programmes"):
        frame = getattr(lin_data, name)
        assert frame["source"].notna().all() and (frame["source"].astype(str).str.len() > 3).all(), name
        assert frame["status"].isin(["observed", "derived", "assumed"]).all(), name
    assert len(lin_data.villages) == 472 and len(lin_data.townships) == 23
