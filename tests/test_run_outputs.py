"""What a run leaves behind: file modes from the umask (C23), plain progress lines in logs (C16),
run ids that follow the code that ran and a manifest that says whether the tree was dirty (C19),
one comparison span (C25) and user text kept literal in reports (C26)."""

from __future__ import annotations

import io
import json
import os
import re
import stat

import pytest
from typer.testing import CliRunner

from urban_sim.cli import app
from urban_sim.config import load_scenario
from urban_sim.runs import ensemble
from urban_sim.runs.progress import PlainProgress, progress
from urban_sim.runs.seeds import replicate_seeds

from .conftest import CONFIGS

TINY = ["--scale", "0.01", "--end-year", "2021", "--workers", "1"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_c23_output_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        r = CliRunner().invoke(app, ["run", str(CONFIGS / "baseline.yaml"), *TINY,
                                     "--replicates", "2", "--out", str(tmp_path / "out")])
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(files) >= 10
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes


def test_c16_no_carriage_returns_with_a_non_terminal_stderr(tmp_path):
    r = CliRunner().invoke(app, ["run", str(CONFIGS / "baseline.yaml"), *TINY,
                                 "--replicates", "3", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "\r" not in r.output
    assert "runs: 3/3\n" in r.output


def test_c16_plain_progress_prints_a_few_whole_lines():
    buf = io.StringIO()
    bar = progress(100, desc="runs", file=buf)
    assert isinstance(bar, PlainProgress)
    bar.min_seconds = 0
    for _ in range(100):
        bar.update()
    bar.close()
    lines = buf.getvalue().splitlines(keepends=True)
    assert "\r" not in buf.getvalue() and all(ln.endswith("\n") for ln in lines)
    assert 2 <= len(lines) <= 11 and lines[-1] == "runs: 100/100\n"


def test_c19_run_id_covers_the_installed_code_content(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    (pkg / "model").mkdir(parents=True)
    (pkg / "model" / "county.py").write_text("X = 1\n", encoding="utf-8")
    before = ensemble.code_fingerprint(pkg)
    (pkg / "model" / "county.py").write_text("X = 2\n", encoding="utf-8")
    assert ensemble.code_fingerprint(pkg) != before  # an uncommitted edit, same version
    sc = load_scenario(CONFIGS / "baseline.yaml")
    seed = replicate_seeds(1, 1)[0]
    a = ensemble.run_id(sc, seed)
    monkeypatch.setattr(ensemble, "code_version", lambda: "0.0.0+edited")
    assert ensemble.run_id(sc, seed) != a


def test_c19_manifest_records_code_fingerprint_and_dirty_tree(tmp_path):
    r = CliRunner().invoke(app, ["run", str(CONFIGS / "baseline.yaml"), *TINY,
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["code_version"] == ensemble.code_version()
    assert manifest["git_dirty"] in (True, False, None)


def test_c25_scenarios_with_different_horizons_are_refused_naming_both(tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text("extends: baseline\nname: short\nend_year: 2030\n", encoding="utf-8")
    long = tmp_path / "long.yaml"
    long.write_text("extends: baseline\nname: long\nend_year: 2035\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["compare", str(long), str(short), "--replicates", "2",
                                 "--scale", "0.01", "--workers", "1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert "long 2020-2035" in r.output and "short 2020-2030" in r.output
    assert not (tmp_path / "o" / "runs").exists() or not any((tmp_path / "o" / "runs").iterdir())
    # a common --end-year makes them comparable
    r = CliRunner().invoke(app, ["compare", str(long), str(short), "--replicates", "2",
                                 "--scale", "0.01", "--end-year", "2022", "--workers", "1",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "2020-2022" in (tmp_path / "o" / "report.md").read_text(encoding="utf-8")


DESCRIPTION = """\
  <b>bold</b> <script>alert(1)</script> a | pipe
  # not a heading
  ## nor this
"""


def test_c26_user_text_stays_literal_in_its_list_item(tmp_path):
    f = tmp_path / "odd.yaml"
    f.write_text(f"extends: baseline\nname: odd\ndescription: |\n{DESCRIPTION}", encoding="utf-8")
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["compare", str(CONFIGS / "baseline.yaml"), str(f),
                                 "--replicates", "2", "--scale", "0.01", "--end-year", "2021",
                                 "--workers", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    md = (out / "report.md").read_text(encoding="utf-8")
    item = [ln for ln in md.splitlines() if ln.startswith("- odd: ")]
    assert len(item) == 1
    assert "# not a heading" in item[0] and "## nor this" in item[0]
    assert "\\|" in item[0] and "\\<script>alert(1)\\</script>" in item[0]
    assert not re.search(r"(?<!\\)<(script|b)>", md)  # no tag Markdown would render
    assert not [ln for ln in md.splitlines() if "not a heading" in ln and ln.startswith("#")]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
