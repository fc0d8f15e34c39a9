"""The report as plain data (sections of paragraphs, lists, tables and figures) and its three renderings: one
self-contained HTML page (figures inline as base64 PNG, no scripts, no external files), Markdown with the PNGs
beside it, and a LaTeX (booktabs) file per table."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    name: str  # file stem of tables/<name>.tex, and the LaTeX label
    caption: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def numeric(self) -> list[bool]:
        """Per column, whether it holds numbers (right-aligned); the first column always holds labels."""
        looks_numeric = re.compile(r"^([+-]?\d|missing$|n/a$|-$)")
        return [i > 0 and all(looks_numeric.match(row[i]) for row in self.rows) for i in range(len(self.header))]


@dataclass(frozen=True)
class Figure:
    name: str  # file stem of <name>.png beside report.md
    caption: str
    png: bytes


@dataclass(frozen=True)
class Bullets:
    items: list[str]


Block = str | Bullets | Table | Figure  # a str is a paragraph


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block]

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


# -- HTML ----------------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; max-width: 1200px;
       margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { border-bottom: 2px solid #3b6ea5; padding-bottom: .3em; }
h2 { margin-top: 2em; color: #24466b; border-bottom: 1px solid #d5dbe3; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0 .3em; font-size: 0.88em; }
.caption { font-weight: 600; margin: 1.2em 0 .2em; }
th, td { padding: .3em .7em; border-bottom: 1px solid #e3e7ed; }
th { background: #eef2f7; text-align: center; }
td { text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wide { overflow-x: auto; }
tbody tr:nth-child(even) { background: #f8fafc; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #e3e7ed; }
figcaption, .notes { font-size: 0.88em; color: #4a5568; }
nav ol { columns: 2; }
"""


def to_html(title: str, subtitle: str, sections: list[Section]) -> str:
    toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(_html_section(s) for s in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>"
        f"<nav><ol>{toc}</ol></nav>{body}</body></html>\n"
    )


def _html_section(section: Section) -> str:
    parts = [f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>']
    for block in section.blocks:
        if isinstance(block, str):
            parts.append(f"<p>{html.escape(block)}</p>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            parts.append(_html_table(block))
        else:
            data = base64.b64encode(block.png).decode("ascii")
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.caption)}">'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>"
            )
    return "".join(parts) + "</section>"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    numeric = table.numeric()
    rows = "".join(
        "<tr>" + "".join(_html_cell(c, n) for c, n in zip(row, numeric, strict=True)) + "</tr>" for row in table.rows
    )
    notes = "".join(f'<p class="notes">{html.escape(n)}</p>' for n in table.notes)
    return (
        f'<p class="caption">{html.escape(table.caption)}</p>'
        f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{notes}'
    )


def _html_cell(text: str, numeric: bool) -> str:
    return f"<td{' class=num' if numeric else ''}>{html.escape(text)}</td>"


# -- Markdown ------------------------------------------------------------------------------------------------


def to_markdown(title: str, subtitle: str, sections: list[Section]) -> str:
    lines = [f"# {title}", "", subtitle, ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += [*_markdown_block(block), ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """Markdown-safe text: "*" marks significance here, never emphasis; a bare "|" would end a table cell."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|").replace("\n", " ")


def _markdown_block(block: Block) -> list[str]:
    if isinstance(block, str):
        return [_md(block)]
    if isinstance(block, Bullets):
        return [f"- {_md(item)}" for item in block.items]
    if isinstance(block, Figure):
        return [f"![{_md(block.caption)}]({block.name}.png)", "", f"*{_md(block.caption)}*"]
    align = ["---:" if n else ":---" for n in block.numeric()]
    rows = [_markdown_row(block.header), "|" + "|".join(align) + "|", *(_markdown_row(row) for row in block.rows)]
    notes = [line for n in block.notes for line in ("", f"*{_md(n)}*")]
    return [f"**{_md(block.caption)}**", "", *rows, *notes]


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(_md(c) for c in cells) + " |"


# -- LaTeX ---------------------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "→": r"$\rightarrow$",
    "±": r"$\pm$",
    "–": "--",
    "−": "-",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs table (needs \\usepackage{booktabs}); numeric columns right-aligned."""
    spec = "".join("r" if n else "l" for n in table.numeric())
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{latex_escape(table.caption)}}}",
        rf"\label{{tab:{table.name}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        _latex_row(table.header),
        r"\midrule",
        *(_latex_row(r) for r in table.rows),
        r"\bottomrule",
        r"\end{tabular}",
        *(rf"\par\smallskip{{\footnotesize {latex_escape(n)}}}" for n in table.notes),
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _latex_row(cells: list[str]) -> str:
    return " & ".join(latex_escape(c) for c in cells) + r" \\"
