"""Shared fixtures: the built-in Lin County data and a tiny three-township county."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from urban_sim.config import load_scenario
from urban_sim.config.loader import SHIPPED_EXPERIMENTS, SHIPPED_SCENARIOS
from urban_sim.data import DEFAULT_DATA_DIR, load_county

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = SHIPPED_SCENARIOS  # installed with the package; ROOT/configs links here in a checkout
EXPERIMENTS = SHIPPED_EXPERIMENTS


@pytest.fixture(scope="session")
def lin_data():
    return load_county()


def make_tiny_county(folder: Path) -> Path:
    """A county of three township-level units with one village each.

    Township 0 holds the county seat, township 1 is a designated town, township 2 (a 乡) has
    population weight 0, so its village starts empty (case C09).
    """
    shutil.copytree(DEFAULT_DATA_DIR, folder, dirs_exist_ok=True)
    for f in folder.glob("start_*"):  # Lin County's start state does not fit these places
        f.unlink()
    tw = pd.DataFrame({
        "township_id": [0, 1, 2], "name_zh": ["城关镇", "东镇", "西乡"],
        "name_pinyin": ["Chengguan", "Dong", "Xi"], "kind": ["county_seat", "town", "township"],
        "n_villages": [1, 1, 1], "population_weight": [0.5, 0.5, 0.0],
        "centre_share": [0.0, 0.15, 0.1], "distance_to_seat_km": [0, 20, 35],
        "qikou_scenic_area": [0, 1, 0], "year": 2020, "source": "test", "status": "assumed",
        "note": "",
    })
    tw.to_csv(folder / "townships.csv", index=False)
    vil = pd.DataFrame({
        "village_id": [0, 1, 2], "township_id": [0, 1, 2], "name": ["甲村", "乙村", "丙村"],
        "population_weight": [1.0, 1.0, 1.0], "distance_to_centre_km": [3.0, 4.0, 5.0],
        "distance_to_seat_km": [3.0, 24.0, 40.0], "year": 2020, "source": "test",
        "status": "assumed",
    })
    vil.to_csv(folder / "villages.csv", index=False)
    census = pd.read_csv(folder / "census.csv")
    values = {"resident_population": 3000, "urban_population": 1000, "registered_population": 3600,
              "male_population": 1560, "female_population": 1440,
              "county_seat_share_of_urban": 0.8}
    for ind, v in values.items():
        census.loc[census["indicator"] == ind, "value"] = v
    census.to_csv(folder / "census.csv", index=False)
    return folder


@pytest.fixture()
def tiny_dir(tmp_path):
    return make_tiny_county(tmp_path / "tiny")


def scenario(name: str = "baseline", **overrides):
    """Load a shipped scenario with dotted overrides."""
    return load_scenario(CONFIGS / f"{name}.yaml", overrides)
