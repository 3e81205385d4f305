"""Package data: shipped scenarios, experiments and the Lin County tables install with the package."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import urban_sim
from urban_sim.config import load_scenario
from urban_sim.config.loader import SHIPPED_EXPERIMENTS, SHIPPED_SCENARIOS, dump_scenario
from urban_sim.data import DEFAULT_DATA_DIR

from .conftest import ROOT

PACKAGE = Path(urban_sim.__file__).parent


def test_shipped_folders_live_inside_the_package():
    for folder in (SHIPPED_SCENARIOS, SHIPPED_EXPERIMENTS, DEFAULT_DATA_DIR):
        assert folder.is_dir() and PACKAGE in folder.resolve().parents, folder
    assert (SHIPPED_SCENARIOS / "baseline.yaml").is_file()
    assert (DEFAULT_DATA_DIR / "parameters.csv").is_file()


def test_checkout_paths_lead_to_the_package_data():
    """configs/, experiments/ and data/lin_county/ in a checkout are the shipped folders."""
    assert (ROOT / "configs").resolve() == SHIPPED_SCENARIOS.resolve()
    assert (ROOT / "experiments").resolve() == SHIPPED_EXPERIMENTS.resolve()
    assert (ROOT / "data" / "lin_county").resolve() == DEFAULT_DATA_DIR.resolve()


def test_every_shipped_file_is_declared_package_data():
    """A file the globs in pyproject.toml miss would be absent from a wheel."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = data["tool"]["setuptools"]["package-data"]
    declared = [str(Path("urban_sim") / g) for g in globs["urban_sim"]]
    declared += [str(Path("urban_sim", "data") / g) for g in globs["urban_sim.data"]]
    for folder in (SHIPPED_SCENARIOS, SHIPPED_EXPERIMENTS, DEFAULT_DATA_DIR):
        for f in folder.iterdir():
            rel = str(f.resolve().relative_to(PACKAGE.parent))
            assert any(fnmatch.fnmatch(rel, g) for g in declared), rel


def test_a_shipped_scenario_loads_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert dump_scenario(load_scenario("plan")) == dump_scenario(
        load_scenario(SHIPPED_SCENARIOS / "plan.yaml"))
    (tmp_path / "mine.yaml").write_text("extends: plan\nname: mine\n", encoding="utf-8")
    mine = load_scenario(tmp_path / "mine.yaml")
    assert mine.name == "mine" and mine.policy == load_scenario("plan").policy
