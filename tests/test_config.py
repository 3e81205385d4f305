"""Scenario files: strict keys (C10), extends, overrides, ranges."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from urban_sim.cli import app
from urban_sim.config import dump_scenario, load_scenario
from urban_sim.errors import ConfigError
from urban_sim.model.county import check_scenario

from .conftest import CONFIGS

TYPO_YAML = f"""\
extends: {CONFIGS / 'baseline.yaml'}
name: typo
scael: 0.5
policy:
  levers:
    hukou_servce_access: 0.7
"""


def test_misspelled_keys_are_errors_naming_file_line_and_nearest_key(tmp_path):
    f = tmp_path / "typo.yaml"
    f.write_text(TYPO_YAML, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scenario(f)
    msg = str(err.value)
    assert f"{f}:3: unknown key 'scael' (did you mean 'scale'?)" in msg
    assert f"{f}:6: unknown key 'policy.levers.hukou_servce_access' (did you mean 'hukou_service_access'?)" in msg
    assert "\n" not in msg


def test_same_typos_in_toml_are_errors(tmp_path):
    f = tmp_path / "typo.toml"
    f.write_text(f'extends = "{CONFIGS / "baseline.yaml"}"\nname = "t"\nscael = 0.5\n'
                 '[policy.levers]\nhukou_servce_access = 0.7\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scenario(f)
    assert f"{f}: unknown key 'scael' (did you mean 'scale'?)" in str(err.value)
    assert "unknown key 'policy.levers.hukou_servce_access' (did you mean 'hukou_service_access'?)" in str(err.value)


def test_unknown_parameter_and_programme_names_are_errors(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: p\nparameters:\n  asc_outsid: 1.0\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'parameters.asc_outsid' \(did you mean 'asc_outside'\?\)"):
        check_scenario(load_scenario(f))
    g = tmp_path / "w.yaml"
    g.write_text(f"extends: {CONFIGS / 'baseline.yaml'}\nname: w\npolicy:\n  investment:\n"
                 "    programme_weights: {school_expansio: 2.0}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'school_expansion'"):
        check_scenario(load_scenario(g))


@pytest.mark.parametrize("override, match", [
    ({"scale": 0.0}, r"key 'scale' = 0.0: Input should be greater than 0"),
    ({"start_year": 2015}, r"key 'start_year' = 2015"),
    ({"end_year": 2019}, r"end_year \(2019\) must be after start_year \(2020\)"),
    ({"policy.levers.land_reform": 1.5}, r"key 'policy.levers.land_reform' = 1.5: Input should be less than or equal to 1"),
    ({"policy.investment.task_area_shares.industry": 0.9}, r"task-area shares must sum to 1"),
])
def test_out_of_range_values_name_key_value_and_range(override, match):
    with pytest.raises(ConfigError, match=match):
        load_scenario(CONFIGS / "baseline.yaml", override)


def test_plan_extends_baseline_and_differs_only_in_policy(tmp_path):
    base, plan = load_scenario(CONFIGS / "baseline.yaml"), load_scenario(CONFIGS / "plan.yaml")
    assert plan.history == base.history
    assert plan.uncertainties == base.uncertainties
    assert plan.policy.investment.total_million_yuan > base.policy.investment.total_million_yuan
    assert plan.policy.levers.hukou_service_access > base.policy.levers.hukou_service_access
    assert base.policy.start_year == plan.policy.start_year == 2025
    resolved = tmp_path / "plan.resolved.yaml"
    resolved.write_text(dump_scenario(plan), encoding="utf-8")
    again = load_scenario(resolved)  # self-contained: loads without its parent
    assert again.extends is None and again.model_dump(exclude={"extends"}) == plan.model_dump(exclude={"extends"})


def test_circular_and_missing_extends(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b\nname: a\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a\nname: b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="circular 'extends'"):
        load_scenario(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: nothere\nname: c\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nothere.yaml not found"):
        load_scenario(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="file not found"):
        load_scenario(tmp_path / "zzz.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_scenario(tmp_path / "bad.yaml")


def test_cli_typo_exits_2_with_one_line_and_no_traceback(tmp_path):
    f = tmp_path / "typo.yaml"
    f.write_text(TYPO_YAML, encoding="utf-8")
    for cmd in (["run", str(f)], ["validate", str(f)]):
        result = CliRunner().invoke(app, cmd)
        assert result.exit_code == 2
        err = result.stderr if hasattr(result, "stderr") else result.output
        lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "did you mean 'scale'" in lines[0]
        assert "Traceback" not in result.output


def test_an_override_of_the_policy_block_leaves_history_alone():
    """baseline.yaml writes ``policy: {<<: *history}``: the two blocks share nested mappings in
    the parsed YAML, so a command-line ``--set policy.investment...`` once changed the years
    before the policy start too (levers must act from ``policy.start_year`` only)."""
    sc = load_scenario(CONFIGS / "baseline.yaml", {"policy.investment.total_million_yuan": 800.0,
                                                   "policy.levers.land_reform": 0.9})
    assert sc.policy.investment.total_million_yuan == 800.0
    assert sc.policy.levers.land_reform == 0.9
    assert sc.history.investment.total_million_yuan == 600.0
    assert sc.history.levers.land_reform == 0.1
