"""Read a PDF's text layer into a Markdown body: headings found by size, page furniture left out.

pypdf gives the text of each page and, through its visitor, the size and height on the page of every
run of text. From those this module rebuilds what a reader sees:

- a line set in a font clearly larger than the body text (`HEADING_RATIO`), short and with letters,
  becomes a ``## heading`` (so it starts a section, as in a Markdown source); a heading wrapped over two
  lines is one heading;
- page numbers ("3", "Page 3", "3 of 8", "- 3 -") at the top or bottom of a page, and running heads or
  feet repeated on most pages, are dropped, so they never land inside a passage;
- lines are joined into paragraphs: a larger gap than the usual line spacing, a bullet, or a heading
  starts a new one; a paragraph carries on across a page break unless the page ended a sentence.
  A line ending in a hyphen is joined without a space and keeps the hyphen ("chemotherapy-induced");
  a soft hyphen (U+00AD) is removed.

A PDF with no text layer at all (a scan) raises `UnreadableSource` with "no text: is it a scan?".
The title is the document's own Title property when it has a real one, else its first heading.

Not here: choosing a reader by file type (sources.py), Word files (docx_text.py).
"""

from __future__ import annotations

import io
import logging
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from .errors import UnreadableSource

HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body text's
HEADING_MAX_CHARS = 120
PARAGRAPH_GAP_RATIO = 1.35  # a gap this many times the usual line spacing starts a paragraph
FURNITURE_LINES = 2  # lines at each end of a page that may be a page number or running head

_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[•◦▪‣∙●○■□–\-*]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")
_PLACEHOLDER_TITLE = re.compile(r"^(?:untitled|microsoft word\b|document\d*$|\S+\.(?:docx?|pdf|odt|rtf)$)", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One line of a page as read: its text, font size (points) and height on the page."""

    text: str
    size: float
    y: float | None


def read_pdf(raw: bytes) -> tuple[str, str]:
    """Return (title, Markdown body) of a PDF's text; raises `UnreadableSource` with the reason."""
    import pypdf  # needed only for PDF sources

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd fonts are not the user's business
    try:
        reader = pypdf.PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableSource("it is password-protected; save a copy without a password")
        pages = [_page_lines(page) for page in reader.pages]
        title = _metadata_title(reader)
    except UnreadableSource:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files (PdfReadError, KeyError, ValueError, ...)
        raise UnreadableSource(f"it cannot be read as a PDF ({exc.__class__.__name__}); open it and save or print it to PDF again") from exc
    if not any(line.text.strip() for lines in pages for line in lines):
        raise UnreadableSource("no text: is it a scan? Run it through OCR (for example ocrmypdf) or save the handout as a text PDF")
    body = markdown_body(pages)
    if not title:
        first = re.search(r"^## (.+)$", body, re.MULTILINE)
        title = first.group(1) if first else ""
    return title, body


def _metadata_title(reader) -> str:
    try:
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception:  # a damaged Info dictionary is not a reason to refuse the text
        return ""
    title = " ".join(str(title).split())
    return "" if _PLACEHOLDER_TITLE.match(title) else title


def _page_lines(page) -> list[Line]:
    """The lines of one page with the font size and height of each (sizes unknown if pypdf disagrees with itself)."""
    runs: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, _font, size):
        a, b, c, d, _e, f = _multiply(tm, cm)
        runs.append((text, (size or 0) * math.hypot(c, d), f))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(run[0] for run in runs) != text:  # cannot map sizes to characters: keep the text, without headings
        return [Line(line, 0.0, None) for line in text.split("\n")]
    lines: list[Line] = []
    current, sizes, y = [], Counter(), None
    for piece, size, height in runs:
        for i, part in enumerate(piece.split("\n")):
            if i:  # a line ended inside this run
                lines.append(Line("".join(current), _majority(sizes), y))
                current, sizes, y = [], Counter(), None
            if part:
                current.append(part)
                sizes[round(size, 1)] += len(part.strip())
                y = height if y is None else y
    lines.append(Line("".join(current), _majority(sizes), y))
    return lines


def _multiply(m, n):
    """The PDF matrix product m × n of two 6-number affine matrices."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2, e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _majority(sizes: Counter) -> float:
    return sizes.most_common(1)[0][0] if sizes else 0.0


def markdown_body(pages: list[list[Line]]) -> str:
    """Join the pages' lines into Markdown: furniture dropped, headings marked, paragraphs rebuilt.

    >>> page = [Line("Care after treatment", 16, 700), Line("Rest for an hour and drink", 11, 680),
    ...         Line("water.", 11, 666), Line("3", 9, 40)]
    >>> markdown_body([page]).split("\\n\\n")
    ['## Care after treatment', 'Rest for an hour and drink water.', '']
    """
    pages = _without_furniture([[line for line in lines if line.text.strip()] for lines in pages])
    body_size = _body_size(pages)
    spacing = _line_spacing(pages, body_size)
    blocks: list[list[str]] = []  # each block: ["## heading"] or the lines of one paragraph
    previous: Line | None = None
    for page_number, lines in enumerate(pages):
        for position, line in enumerate(lines):
            text = " ".join(line.text.split())
            if _is_heading(line, text, body_size):
                if blocks and blocks[-1][0].startswith("## ") and previous is not None and previous.size == line.size and position:
                    blocks[-1][0] += " " + text  # a heading wrapped over two lines
                else:
                    blocks.append(["## " + text])
            elif _starts_paragraph(blocks, previous, line, text, spacing, new_page=position == 0 and page_number > 0):
                blocks.append([text])
            else:
                blocks[-1].append(text)
            previous = line
    return "".join(_render(block) + "\n\n" for block in blocks)


def _starts_paragraph(blocks, previous: Line | None, line: Line, text: str, spacing: float | None, new_page: bool) -> bool:
    if not blocks or blocks[-1][0].startswith("## ") or previous is None:
        return True
    last = blocks[-1][-1]
    if new_page:
        return bool(_SENTENCE_END.search(last))
    if _BULLET.match(text):
        return not _BULLET.match(blocks[-1][0])  # a list is one paragraph, an item per line
    if spacing and previous.y is not None and line.y is not None:
        return abs(previous.y - line.y) > spacing * PARAGRAPH_GAP_RATIO
    return False


def _render(block: list[str]) -> str:
    if block[0].startswith("## "):
        return block[0]
    out = block[0]
    for text in block[1:]:
        if _BULLET.match(text):
            out += "\n" + text
        elif out.endswith("\u00ad"):
            out = out[:-1] + text
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out += text
        else:
            out += " " + text
    return out


def _is_heading(line: Line, text: str, body_size: float) -> bool:
    return (
        body_size > 0
        and line.size >= body_size * HEADING_RATIO
        and len(text) <= HEADING_MAX_CHARS
        and re.search(r"[^\W\d_]{2}", text) is not None
        and not text.endswith((".", ","))
    )


def _without_furniture(pages: list[list[Line]]) -> list[list[Line]]:
    """Drop page numbers, and running heads and feet: the same line at the same height at an edge of most pages.

    A line of text that merely recurs (the last sentence of a repeated paragraph) sits at a different
    height on each page, so it is kept.
    """
    counts: Counter = Counter()
    for lines in pages:
        counts.update(set(_edge_keys(lines).values()))
    needed = max(2, math.ceil(len(pages) / 2))
    repeated = {key for key, count in counts.items() if len(pages) >= 2 and count >= needed}
    kept = []
    for lines in pages:
        edges = _edge_keys(lines)
        kept.append([
            line for i, line in enumerate(lines)
            if i not in edges or not (_PAGE_NUMBER.match(line.text.strip()) or edges[i] in repeated)
        ])
    return kept


def _edge_keys(lines: list[Line]) -> dict[int, tuple]:
    """The lines at the top and bottom of a page, by position, each keyed by its shape and height."""
    positions = [*range(min(FURNITURE_LINES, len(lines))), *range(max(FURNITURE_LINES, len(lines) - FURNITURE_LINES), len(lines))]
    return {i: (_shape(lines[i].text), None if lines[i].y is None else round(lines[i].y)) for i in positions}


def _shape(text: str) -> str:
    """A line with its numbers blanked, so "Page 2 of 5" and "Page 3 of 5" count as the same running foot."""
    return re.sub(r"\d+", "#", " ".join(text.split()).lower())


def _body_size(pages: list[list[Line]]) -> float:
    weights: Counter = Counter()
    for lines in pages:
        for line in lines:
            weights[line.size] += len(line.text.strip())
    size, _ = weights.most_common(1)[0] if weights else (0.0, 0)
    return size


def _line_spacing(pages: list[list[Line]], body_size: float) -> float | None:
    """The usual distance between two lines of body text (the median), or None when heights are unknown."""
    gaps = []
    for lines in pages:
        for above, below in zip(lines, lines[1:]):
            if above.size == below.size == body_size and above.y is not None and below.y is not None and above.y != below.y:
                gaps.append(abs(above.y - below.y))
    return statistics.median(gaps) if gaps else None
