"""Reading config files the same way everywhere: duplicate keys (C14), YAML 1.2 numbers (C15),
paths relative to the naming file and ``extends`` by shipped name (C24)."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from urban_sim.cli import app
from urban_sim.config import dump_scenario, load_scenario, read_mapping
from urban_sim.data import DEFAULT_DATA_DIR
from urban_sim.errors import ConfigError

from .conftest import CONFIGS, EXPERIMENTS

LEVERS = """\
    hukou_service_access: 0.5
    housing_support_share: 0.5
    vocational_training_intensity: 0.5
    school_expansion_priority: 0.5
    tourism_promotion: 0.5
"""


def _write(tmp_path, name, text):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def test_c14_duplicate_nested_key_is_an_error_naming_file_line_and_dotted_key(tmp_path):
    f = _write(tmp_path, "dup.yaml", f"extends: {CONFIGS / 'baseline.yaml'}\nname: dup\n"
               f"policy:\n  levers:\n    land_reform: 0.9\n{LEVERS}    land_reform: 0.1\n")
    with pytest.raises(ConfigError, match=rf"^{f}:11: duplicate key policy.levers.land_reform "
                       r"\(first given at line 5\)"):
        load_scenario(f)
    r = CliRunner().invoke(app, ["validate", str(f)])
    assert r.exit_code == 2 and "duplicate key policy.levers.land_reform" in r.output
    r = CliRunner().invoke(app, ["run", str(f), "--scale", "0.01", "--end-year", "2021",
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert not (tmp_path / "out" / "timeseries.csv").exists()


def test_c14_duplicate_top_level_key_in_scenario_and_experiment_files(tmp_path):
    f = _write(tmp_path, "dup.yaml", f"extends: {CONFIGS / 'baseline.yaml'}\nname: dup\n"
               "end_year: 2030\nend_year: 2031\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:4: duplicate key end_year"):
        load_scenario(f)
    exp = (EXPERIMENTS / "levers_morris.yaml").read_text(encoding="utf-8")
    g = _write(tmp_path, "exp.yaml", exp + "\nseed: 1\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"exp.yaml:\d+: duplicate key seed"):
        read_mapping(g)


def test_c14_anchors_and_merge_keys_still_work(tmp_path):
    f = _write(tmp_path, "anchors.yaml", f"""\
extends: {CONFIGS / 'baseline.yaml'}
name: anchors
history: &history
  levers: &levers
    land_reform: 0.3
    tourism_promotion: 0.2
policy:
  levers:
    <<: *levers
    land_reform: 0.7
""")
    s = load_scenario(f)
    assert s.history.levers.land_reform == 0.3
    assert s.policy.levers.land_reform == 0.7 and s.policy.levers.tourism_promotion == 0.2


@pytest.mark.parametrize("suffix", ["yaml", "toml"])
def test_c15_exponent_forms_read_as_numbers_like_toml(tmp_path, suffix):
    if suffix == "yaml":
        text = (f"extends: {CONFIGS / 'baseline.yaml'}\nname: num\npolicy:\n  investment:\n"
                "    total_million_yuan: 1.2e3\nparameters:\n  return_hazard_base: 2e-2\n")
    else:
        text = (f'extends = "{CONFIGS / "baseline.yaml"}"\nname = "num"\n'
                "[policy.investment]\ntotal_million_yuan = 1.2e3\n"
                "[parameters]\nreturn_hazard_base = 2e-2\n")
    s = load_scenario(_write(tmp_path, f"num.{suffix}", text))
    assert s.policy.investment.total_million_yuan == 1200.0
    assert s.parameters["return_hazard_base"] == 0.02


def test_c15_yaml_rules_are_the_toml_ones_for_every_file_kind(tmp_path):
    f = _write(tmp_path, "x.yaml", "a: 1.2e3\nb: 2e-2\nc: 1_000\nd: 010\ne: .5\nf: yes\n"
               "g: true\nh: 1:30\ni: 0x10\nj: -.inf\nk: null\n")
    data = read_mapping(f)
    assert data == {"a": 1200.0, "b": 0.02, "c": 1000, "d": 10, "e": 0.5, "f": "yes",
                    "g": True, "h": "1:30", "i": 16, "j": float("-inf"), "k": None}
    assert type(data["a"]) is float and type(data["c"]) is int


def test_c15_experiment_files_read_exponents(tmp_path):
    exp = (EXPERIMENTS / "levers_morris.yaml").read_text(encoding="utf-8")
    f = _write(tmp_path, "exp.yaml", exp.replace("\nseed: 20250102\n", "\nseed: 2e1\n"))
    assert read_mapping(f)["seed"] == 20.0


def _copy_project(tmp_path):
    proj = tmp_path / "proj"
    shutil.copytree(DEFAULT_DATA_DIR, proj / "data" / "county")
    (proj / "configs").mkdir()
    f = proj / "configs" / "rel.yaml"
    f.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: rel\ndata_dir: ../data/county\n",
                 encoding="utf-8")
    return proj, f


def test_c24_data_dir_is_relative_to_the_file_from_any_working_directory(tmp_path, monkeypatch):
    proj, f = _copy_project(tmp_path)
    seen = []
    for cwd in (proj / "configs", tmp_path):
        monkeypatch.chdir(cwd)
        s = load_scenario(os.path.relpath(f, cwd))
        seen.append(s.data_dir)
    assert seen[0] == seen[1] == str((proj / "data" / "county").resolve())
    # the resolved scenario holds the resolved path and loads on its own elsewhere
    other = tmp_path / "elsewhere"
    other.mkdir()
    g = other / "rel.resolved.yaml"
    g.write_text(dump_scenario(s), encoding="utf-8")
    assert yaml.safe_load(g.read_text(encoding="utf-8"))["data_dir"] == seen[0]
    assert load_scenario(g).data_dir == seen[0]


def test_c24_run_gives_identical_results_from_any_working_directory(tmp_path, monkeypatch):
    proj, f = _copy_project(tmp_path)
    outs = []
    for i, cwd in enumerate((proj / "configs", tmp_path)):
        monkeypatch.chdir(cwd)
        out = tmp_path / f"out{i}"
        r = CliRunner().invoke(app, ["run", os.path.relpath(f, cwd), "--scale", "0.01",
                                     "--end-year", "2021", "--out", str(out)])
        assert r.exit_code == 0, r.output
        outs.append((out / "timeseries.csv").read_text(encoding="utf-8"))
    assert outs[0] == outs[1]


def test_c24_extends_finds_shipped_scenarios_by_name(tmp_path):
    f = _write(tmp_path, "own.yaml", "extends: plan\nname: own\n")
    s = load_scenario(f)
    assert s.policy.levers.hukou_service_access == load_scenario(CONFIGS / "plan.yaml").policy.levers.hukou_service_access
    # a file of that name next to the naming file wins over the shipped one
    _write(tmp_path, "plan.yaml", f"extends: {CONFIGS / 'baseline.yaml'}\nname: local_plan\n"
           "end_year: 2030\n")
    assert load_scenario(f).end_year == 2030
    g = _write(tmp_path, "bad.yaml", "extends: no_such_scenario\nname: bad\n")
    with pytest.raises(ConfigError, match=r"key 'extends': scenario file .*no_such_scenario.yaml not found"):
        load_scenario(g)
