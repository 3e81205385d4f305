"""The one HTML helper: a report document built once and written as HTML and Markdown.

Every report (run, compare, sensitivity, calibration) is a :class:`Document`: a list of
headings, paragraphs, bullet lists, tables and figures. :meth:`Document.write` writes
``report.html`` (self-contained, figures embedded as PNG data URIs, every text escaped),
``report.md`` (figures linked from ``figures/``) and the figure files, each atomically.

Usage::

    doc = Document("Scenario comparison", lang="en")
    doc.heading("Summary")
    doc.paragraph("Two scenarios ...")
    doc.table(frame)                 # a pandas.DataFrame; cells formatted with fmt()
    doc.figure("compare_fans", fig)  # a matplotlib Figure or PNG bytes
    doc.write(out_dir)

All text handed to a Document is plain text: it is escaped in HTML and in Markdown tables
(``|`` and newlines), so scenario names and descriptions cannot break the page.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from urban_sim.files import atomic_write, write_text

CSS = (
    "body{font-family:'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','WenQuanYi Zen Hei',"
    "'Microsoft YaHei',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;"
    "line-height:1.5}"
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:13px;margin:.5em 0}"
    "td,th{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}"
    "td:first-child,th:first-child{text-align:left;white-space:normal}th{background:#f4f4f4}"
    "td{white-space:nowrap}"
    "table.wrap td{white-space:normal;text-align:left;min-width:6em}"
    "img{max-width:100%}.summary{background:#f6f8fa;border-left:4px solid #2a9d8f;padding:.6em 1em}"
    ".note{color:#555;font-size:.92em}.met{background:#e3f4ef}.unmet{background:#fbe9e4}"
)


def esc(text) -> str:
    """``text`` as HTML-escaped text (quotes included)."""
    return html.escape(str(text), quote=True)


def md_cell(text) -> str:
    """``text`` shown literally in one Markdown table cell: backslash, ``|`` and a ``<`` that
    could open a tag backslash-escaped (CommonMark), so tags show as text (``<=`` stays as it
    is); newlines as spaces."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|")
    out = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", out)
    return out.replace("\r", " ").replace("\n", " ")


def md_text(text) -> str:
    """``text`` shown literally as one Markdown list item, heading or paragraph: as
    :func:`md_cell`, and a leading ``#``, ``>``, ``-``, ``+``, ``*`` or ``=`` escaped, so it
    cannot open a heading, quote or list of its own."""
    out = md_cell(text)
    body = out.lstrip()
    if body[:1] in tuple("#>-+*="):
        out = out[:len(out) - len(body)] + "\\" + body
    return out


def fmt(x, spec: str | None = None, *, lang: str = "en") -> str:
    """A number (or other value) as report text: NaN as "n/a" (缺失), booleans as yes/no (是/否),
    large numbers with thousands separators, others with four significant digits."""
    zh = lang == "zh"
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "缺失" if zh else "n/a"
    if isinstance(x, (bool, np.bool_)):
        return ("是" if x else "否") if zh else ("yes" if x else "no")
    if isinstance(x, str) or not isinstance(x, numbers.Real):  # text, lists, mappings as they are
        return str(x)
    if isinstance(x, (int, np.integer)):
        return f"{x:,d}" if abs(x) >= 1e4 else str(x)
    if spec:
        return spec.format(x)
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def png(figure) -> bytes:
    """PNG bytes of a matplotlib Figure (110 dpi), or ``figure`` itself when it is bytes."""
    if isinstance(figure, (bytes, bytearray)):
        return bytes(figure)
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


@dataclass
class _Block:
    kind: str
    text: str = ""
    level: int = 2
    items: list = field(default_factory=list)
    frame: pd.DataFrame | None = None
    css: str = ""
    name: str = ""
    data: bytes = b""


class Document:
    """A report built block by block and written as HTML and Markdown.

    Parameters
    ----------
    title : str
        Page title and first heading (plain text).
    lang : str
        ``en`` or ``zh``: the page's ``lang`` attribute and the n/a / yes/no wording of cells.
    """

    def __init__(self, title: str, *, lang: str = "en") -> None:
        if lang not in ("en", "zh"):
            raise ValueError(f"lang must be one of ['en', 'zh'], got {lang!r}")
        self.title, self.lang = title, lang
        self.blocks: list[_Block] = []

    def heading(self, text: str, level: int = 2) -> Document:
        """Add a heading (level 2 = section, 3 = subsection)."""
        self.blocks.append(_Block("heading", str(text), level=level))
        return self

    def paragraph(self, text: str, *, css: str = "") -> Document:
        """Add a paragraph; ``css`` a class name (``summary``, ``note``)."""
        self.blocks.append(_Block("paragraph", str(text), css=css))
        return self

    def bullets(self, items, *, css: str = "") -> Document:
        """Add a bullet list of plain-text items (nothing added when empty)."""
        items = [str(i) for i in items]
        if items:
            self.blocks.append(_Block("bullets", items=items, css=css))
        return self

    def table(self, frame: pd.DataFrame, *, formats: dict[str, str] | None = None,
              row_css: list[str] | None = None, wrap: bool = False) -> Document:
        """Add a table: the frame's column names as header, cells through :func:`fmt`
        (``formats`` maps a column to a format spec such as ``"{:.1%}"``); ``row_css`` one class
        per row (e.g. ``met``); ``wrap``: cells of text wrap and align left (HTML), for tables
        whose cells are sentences rather than numbers."""
        formats = formats or {}
        cells = pd.DataFrame({c: [fmt(v, formats.get(c), lang=self.lang) for v in frame[c]]
                              for c in frame.columns}, columns=frame.columns)
        self.blocks.append(_Block("table", css="wrap" if wrap else "", frame=cells,
                                  items=list(row_css or [])))
        return self

    def figure(self, name: str, figure, alt: str = "") -> Document:
        """Add a figure (matplotlib Figure or PNG bytes) saved as ``figures/<name>.png``."""
        self.blocks.append(_Block("figure", str(alt or name), name=name, data=png(figure)))
        return self

    # ------------------------------------------------------------------ rendering
    def html(self) -> str:
        """The whole page as a self-contained HTML string."""
        out = [f"<h1>{esc(self.title)}</h1>"]
        for b in self.blocks:
            cls = f' class="{esc(b.css)}"' if b.css else ""
            if b.kind == "heading":
                out.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
            elif b.kind == "paragraph":
                out.append(f"<p{cls}>{esc(b.text)}</p>")
            elif b.kind == "bullets":
                out.append(f"<ul{cls}>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ul>")
            elif b.kind == "table":
                out.append(self._html_table(b))
            elif b.kind == "figure":
                data = base64.b64encode(b.data).decode()
                out.append(f'<figure><img alt="{esc(b.text)}" src="data:image/png;base64,{data}">'
                           "</figure>")
        return ("<!DOCTYPE html>\n"
                f'<html lang="{"zh-CN" if self.lang == "zh" else "en"}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>\n"
                + "\n".join(out) + "\n</body></html>\n")

    @staticmethod
    def _html_table(b: _Block) -> str:
        frame = b.frame
        head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
        rows = []
        for i, row in enumerate(frame.itertuples(index=False)):
            cls = f' class="{esc(b.items[i])}"' if i < len(b.items) and b.items[i] else ""
            rows.append(f"<tr{cls}>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
        cls = f' class="{esc(b.css)}"' if b.css else ""
        return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def markdown(self) -> str:
        """The whole report as Markdown (figures linked as ``figures/<name>.png``)."""
        out = [f"# {md_text(self.title)}", ""]
        for b in self.blocks:
            if b.kind == "heading":
                out += ["#" * b.level + " " + md_text(b.text), ""]
            elif b.kind == "paragraph":
                out += [md_text(b.text), ""]
            elif b.kind == "bullets":
                out += [*(f"- {md_text(i)}" for i in b.items), ""]
            elif b.kind == "table":
                cols = [md_cell(c) for c in b.frame.columns]
                out += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
                        *("| " + " | ".join(md_cell(v) for v in row) + " |"
                          for row in b.frame.itertuples(index=False)), ""]
            elif b.kind == "figure":
                out += [f"![{md_cell(b.text)}](figures/{b.name}.png)", ""]
        return "\n".join(out)

    def write(self, folder: str | Path, *, stem: str = "report") -> list[Path]:
        """Write ``<stem>.html``, ``<stem>.md`` and ``figures/<name>.png`` into ``folder``.

        Returns
        -------
        list of pathlib.Path
            The files written (HTML first, then Markdown, then figures).
        """
        folder = Path(folder)
        paths = [write_text(folder / f"{stem}.html", self.html()),
                 write_text(folder / f"{stem}.md", self.markdown())]
        for b in self.blocks:
            if b.kind == "figure":
                paths.append(atomic_write(folder / "figures" / f"{b.name}.png",
                                          lambda p, d=b.data: p.write_bytes(d)))
        return paths


__all__ = ["CSS", "Document", "esc", "fmt", "md_cell", "png"]
