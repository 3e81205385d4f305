"""docs/tutorial.md: every ```python block runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def test_tutorial_code_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    matplotlib.use("Agg")
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{TUTORIAL.name} block {i + 1}", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "settings argument: key 'policy.levers.land_reform' = 1.5" in out
    assert "['report.html', 'report.md']" in out
    assert (tmp_path / "tutorial_compare" / "report.html").read_text(encoding="utf-8").count("<h2>") >= 5
