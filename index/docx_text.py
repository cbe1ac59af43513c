"""Read a Word (.docx) document into a Markdown body, its headings kept as sections.

python-docx gives the paragraphs and tables in the order they appear. A paragraph is a heading when
its style is one of Word's headings or the title (by name, or by the outline level Word's heading styles
carry, which survives a translated Word), or when it is a short line set wholly in bold with no closing
full stop, the way many handouts are typed. Headings become ``## heading`` lines; list items stay one
per line in one paragraph, as in Markdown; each table cell's text is a paragraph of its own. Headers,
footers and page numbers are not part of a document's body, so they never reach a passage.

The title is the document's Title property when it has a real one, else its first Title-style
paragraph, else its first heading.

Not here: choosing a reader by file type (sources.py), PDFs (pdf_text.py).
"""

from __future__ import annotations

import io
import re
import zipfile

from .errors import UnreadableSource

BOLD_HEADING_MAX_CHARS = 80
_HEADING_STYLE = re.compile(r"^(?:heading\s*\d|title|subtitle)$", re.IGNORECASE)
_PLACEHOLDER_TITLE = re.compile(r"^(?:untitled|document\d*|\S+\.(?:docx?|pdf))$", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(raw: bytes) -> tuple[str, str]:
    """Return (title, Markdown body) of a .docx; raises `UnreadableSource` with the reason."""
    import docx  # python-docx, needed only for Word sources
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableSource(
            f"it cannot be read as a Word document ({exc.__class__.__name__}); open it in Word and save it again as .docx"
        ) from exc
    blocks: list[str] = []
    title_paragraph = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_table_paragraphs(item))
            continue
        text = " ".join(item.text.split())
        if not text:
            continue
        if _is_heading(item, text):
            if not title_paragraph and _style_name(item).lower() == "title":
                title_paragraph = text
            blocks.append("## " + text)
        elif _is_list_item(item) and blocks and blocks[-1].startswith("\u0000"):
            blocks[-1] += "\n" + _list_text(item, text)
        elif _is_list_item(item):
            blocks.append("\u0000" + _list_text(item, text))  # marks a list paragraph that later items join
        else:
            blocks.append(text)
    if not blocks:
        raise UnreadableSource("it has no text (a Word file of only pictures or an empty template?)")
    body = "".join(block.lstrip("\u0000") + "\n\n" for block in blocks)
    title = " ".join((document.core_properties.title or "").split())
    if not title or _PLACEHOLDER_TITLE.match(title):
        headings = [block[3:] for block in blocks if block.startswith("## ")]
        title = title_paragraph or (headings[0] if headings else "")
    return title, body


def _style_name(paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _is_heading(paragraph, text: str) -> bool:
    if _HEADING_STYLE.match(_style_name(paragraph)) or _outline_level(paragraph) is not None:
        return True
    runs = [run for run in paragraph.runs if run.text.strip()]
    return (
        len(text) <= BOLD_HEADING_MAX_CHARS
        and bool(runs)
        and all(run.bold or (run.bold is None and _style_bold(paragraph)) for run in runs)
        and not text.endswith((".", ",", ";"))
        and re.search(r"[^\W\d_]{2}", text) is not None
    )


def _style_bold(paragraph) -> bool:
    style = paragraph.style
    return bool(style is not None and style.font is not None and style.font.bold)


def _outline_level(paragraph) -> int | None:
    """Word's outline level (0 = Heading 1) from the paragraph or its style chain; body text has none (or 9)."""
    elements = [paragraph._p.pPr]
    style = paragraph.style
    while style is not None:
        elements.append(style.element.pPr)
        style = style.base_style
    for ppr in elements:
        if ppr is None:
            continue
        level = ppr.find(_W + "outlineLvl")
        if level is not None:
            value = int(level.get(_W + "val", "9"))
            return value if value < 9 else None
    return None


def _is_list_item(paragraph) -> bool:
    ppr = paragraph._p.pPr
    return (ppr is not None and ppr.numPr is not None) or _style_name(paragraph).lower().startswith("list")


def _list_text(paragraph, text: str) -> str:
    return text if re.match(r"^(?:[•◦▪\-*]|\d{1,2}[.)])\s", text) else "• " + text


def _table_paragraphs(table) -> list[str]:
    paragraphs, seen = [], set()
    for row in table.rows:
        for cell in row.cells:
            if cell._tc in seen:  # a merged cell is returned once per grid column it spans (the set keeps each alive)
                continue
            seen.add(cell._tc)
            text = " ".join(cell.text.split())
            if text:
                paragraphs.append(text)
    return paragraphs
