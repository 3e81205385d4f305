"""The shared report document (urban_sim.reports.html): escaping, HTML and Markdown."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from urban_sim.reports.html import Document, fmt


def test_every_text_is_escaped_in_html_and_markdown(tmp_path):
    evil = '<script>alert("x")</script> | a&b'
    doc = Document(evil, lang="en")
    doc.heading(evil).paragraph(evil, css="summary").bullets([evil])
    doc.table(pd.DataFrame({evil: [evil, 1.5], "n": [math.nan, 12345.0]}))
    doc.figure("fig", b"\x89PNG fake", alt=evil)
    paths = doc.write(tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and page.count("&lt;script&gt;") == 8  # title h1 h2 p li th td alt
    assert "a&amp;b" in page and "n/a" in page and "12,345" in page
    assert 'src="data:image/png;base64,' in page
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "\\| a&b" in md and "![" in md and "(figures/fig.png)" in md
    assert (tmp_path / "figures" / "fig.png").read_bytes() == b"\x89PNG fake"
    assert [p.name for p in paths] == ["report.html", "report.md", "fig.png"]


def test_chinese_document_and_cells():
    doc = Document("情景比较", lang="zh").table(pd.DataFrame({"达成": [True, None]}))
    page = doc.html()
    assert 'lang="zh-CN"' in page and "<td>是</td>" in page and "<td>缺失</td>" in page
    assert fmt(0.25, "{:.0%}") == "25%" and fmt(False) == "no"
    with pytest.raises(ValueError, match="lang must be one of"):
        Document("x", lang="fr")
