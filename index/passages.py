"""Cut documents into sentences and passages.

A sentence comes from pysbd, a rule-based splitter that knows abbreviations ("e.g.",
"Dr.", "i.e."), run on one paragraph at a time so a sentence never spans a blank line.
A passage is a window of 1 to `max_sentences` consecutive sentences of one section (and,
by default, of one paragraph), at most `max_chars` characters, starting at every `stride`-th sentence, so each sentence
appears in context on both sides. Overlapping windows cost a few more vectors but let
retrieval find the window centred on what was asked; qa/ later merges overlaps.

Every sentence and passage keeps its character offsets into its document body, so the
text shown is always `body[start:end]` (verbatim, by construction).

Not here: reading files (sources.py), embedding (embedder.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pysbd

from .settings import IndexSettings
from .sources import Document

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0]*\n")
_segmenter = pysbd.Segmenter(language="en", clean=False, char_span=False)


@dataclass(frozen=True, slots=True)  # slots: a 100k-passage index holds a quarter of a million of these
class Sentence:
    """One sentence: `body[start:end]` of its document, in section `section`."""

    source_id: str
    section: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """What the index stores and returns: verbatim `body[start:end]` of one section.

    `sentence_ids` are the row numbers of its sentences in the index's sentence table.
    """

    passage_id: str
    source_id: str
    title: str
    section: str
    url: str | None
    start: int
    end: int
    text: str
    sentence_ids: tuple[int, ...] = ()


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences of `text`, shifted by `offset`.

    Spans exclude surrounding whitespace; paragraphs are split separately.

    >>> t = "Dr. Lee uses fine needles, e.g. 0.2 mm. Most feel little pain."
    >>> [t[s:e] for s, e in split_sentences(t)]
    ['Dr. Lee uses fine needles, e.g. 0.2 mm.', 'Most feel little pain.']
    """
    spans = []
    paragraph_start = 0
    for brk in [*_PARAGRAPH_BREAK.finditer(text), None]:
        paragraph_end = brk.start() if brk else len(text)
        paragraph = text[paragraph_start:paragraph_end]
        cursor = 0
        if paragraph.strip():
            for piece in _segmenter.segment(paragraph):
                piece = piece.strip()
                if not piece:
                    continue
                found = paragraph.find(piece, cursor)
                if found < 0:  # the splitter altered the text; never show anything not in the body
                    continue
                cursor = found + len(piece)
                spans.append((offset + paragraph_start + found, offset + paragraph_start + cursor))
        if brk:
            paragraph_start = brk.end()
    return _merge_fragments(text, spans, offset)


def _merge_fragments(text: str, spans: list[tuple[int, int]], offset: int) -> list[tuple[int, int]]:
    """Join a fragment with no letters (a stray bullet, a lone number) to the sentence before it."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not re.search(r"[^\W\d_]{2}", text[start - offset : end - offset]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def document_sentences(doc: Document) -> list[Sentence]:
    sentences = []
    for section in doc.sections:
        for start, end in split_sentences(doc.body[section.start : section.end], section.start):
            sentences.append(Sentence(doc.source_id, section.heading, start, end, doc.body[start:end]))
    return sentences


def _unit_key(doc: Document, sentence: Sentence, within_paragraph: bool) -> tuple:
    """Sentences with the same key may share a window: one section, and one paragraph if asked."""
    section = _section_index(doc, sentence.start)
    if not within_paragraph:
        return (section,)
    return (section, len(_PARAGRAPH_BREAK.findall(doc.body, 0, sentence.start)))


def _fit(doc: Document, sentences: list[Sentence], max_chars: int) -> tuple[int, int, str]:
    """Span and text of a window; a lone sentence over the limit is cut at a word, marked with '…'."""
    start, end = sentences[0].start, sentences[-1].end
    if end - start <= max_chars:
        return start, end, doc.body[start:end]
    cut = doc.body.rfind(" ", start, start + max_chars - 1)
    cut = cut if cut > start else start + max_chars - 1
    return start, cut, doc.body[start:cut].rstrip() + "…"


def document_passages(doc: Document, settings: IndexSettings) -> tuple[list[Sentence], list[Passage]]:
    """Sentences and passages of one document; sentence ids are numbered from 0 within the document."""
    sentences = document_sentences(doc)
    passages: list[Passage] = []
    units: dict[tuple, list[int]] = {}
    for i, sentence in enumerate(sentences):
        units.setdefault(_unit_key(doc, sentence, settings.within_paragraph), []).append(i)
    for members in units.values():
        last_window_end = -1
        for pos in range(0, len(members), settings.stride):
            window = members[pos : pos + settings.max_sentences]
            while len(window) > 1 and sentences[window[-1]].end - sentences[window[0]].start > settings.max_chars:
                window = window[:-1]
            if window[-1] <= last_window_end:
                continue  # wholly inside the previous window: adds nothing
            last_window_end = window[-1]
            start, end, text = _fit(doc, [sentences[i] for i in window], settings.max_chars)
            passages.append(
                Passage(
                    passage_id=f"{doc.source_id}#{start}-{end}",
                    source_id=doc.source_id,
                    title=doc.title,
                    section=sentences[window[0]].section,
                    url=doc.url,
                    start=start,
                    end=end,
                    text=text,
                    sentence_ids=tuple(window),
                )
            )
    return sentences, passages


def _section_index(doc: Document, position: int) -> int:
    for i, section in enumerate(doc.sections):
        if section.start <= position < section.end:
            return i
    return len(doc.sections)
