"""The question bank: the questions each article answers, in patients' words, tied to its answering sentences.

A bank is an optional file beside an article, `<source_id>.questions.yaml`:

    format: 1
    questions:
      - question: will the needles hurt
        answer: Most patients report little to no pain upon needle insertion, often describing ...
      - question: is there proof it works for nerve pain?
        answer:                      # one sentence, or a list of them from one section
          - Scientific investigation supports acupuncture as a complementary therapy ...

Every quote must occur verbatim in the article's body (runs of whitespace count as one space), all quotes of
an entry within one section; questions must not repeat (case, spacing and punctuation aside) in any bank.
`load_bank` checks all of it and raises `BankError` listing every problem, each naming the file, the entry
and the fix: a bank is content that ranks, so it is never skipped silently. An article without a bank works
as before (a clinic's own pages usually have none).

The build embeds the bank questions with the passages' model and keeps them with the index (bank.jsonl,
bank_vectors.npy); at question time qa/ takes the bank questions nearest to a visitor's as evidence for the
passages that hold their quotes (`holding_passages`).

Not here: how that evidence is weighed (qa/retrieve.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import BankError
from .sources import Corpus, Document

SUFFIX = ".questions.yaml"
FORMAT = 1


@dataclass(frozen=True)
class BankEntry:
    """One bank question: the article's sentences that answer it, where they are (`spans` into the body)."""

    source_id: str
    question: str
    quotes: tuple[str, ...]
    section: str
    spans: tuple[tuple[int, int], ...]
    number: int  # its position in the file, from 1, for messages


@dataclass(frozen=True)
class BankFile:
    source_id: str
    path: str
    sha256: str
    entries: tuple[BankEntry, ...]


def bank_path(document: Document) -> Path | None:
    """Where `document`'s bank would be: beside its file, or None for documents not read from a file of their own."""
    path = Path(document.path)
    if not path.is_file():
        return None  # a BEIR line ("corpus.jsonl:12") has no file of its own
    return path.with_name(document.source_id + SUFFIX)


def bank_files_in(sources: str | Path) -> list[Path]:
    root = Path(sources)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*" + SUFFIX) if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def fold_question(text: str) -> str:
    """What makes two questions the same: case, spacing and punctuation aside.

    >>> fold_question("Will the needles  HURT?") == fold_question("will the needles hurt")
    True
    """
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _quote_pattern(quote: str) -> re.Pattern:
    """A quote as a pattern over the body: its words in order, any run of whitespace between them."""
    return re.compile(r"\s+".join(re.escape(word) for word in quote.split()))


def load_bank(sources: str | Path, corpus: Corpus) -> tuple[BankFile, ...]:
    """Every bank under `sources`, checked against the articles of `corpus`; BankError lists all problems."""
    documents = {doc.source_id: doc for doc in corpus.documents}
    problems: list[str] = []
    banks: list[BankFile] = []
    seen: dict[str, str] = {}
    for path in bank_files_in(sources):
        source_id = path.name[: -len(SUFFIX)]
        document = documents.get(source_id)
        if document is None:
            problems.append(f"{path}: there is no article '{source_id}' for this bank (no {source_id}.md, .txt, .html, .pdf or .docx was read). "
                            f"Rename the bank after its article's file, or remove it.")
            continue
        bank, found = _read_bank(path, document, seen)
        problems += found
        if bank is not None:
            banks.append(bank)
    if problems:
        shown = "\n  ".join(problems[:40]) + (f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else "")
        raise BankError(f"The question bank has {len(problems)} problem(s); fix them, then build again:\n  {shown}")
    return tuple(banks)


def _read_bank(path: Path, document: Document, seen: dict[str, str]) -> tuple[BankFile | None, list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [f"{path}: cannot be read ({exc.strerror or exc}); check the file's permissions."]
    return check_bank(path, raw, document, seen)


def check_bank(path: Path, raw: bytes, document: Document, seen: dict[str, str]) -> tuple[BankFile | None, list[str]]:
    """Check one bank file's bytes against its article; `seen` (folded question -> where) collects the questions of the
    banks checked so far, so that a question repeated in another bank is found too."""
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, [f"{path}: is not UTF-8 text; save it as UTF-8."]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return None, [f"{path}: is not valid YAML{where} ({getattr(exc, 'problem', None) or exc.__class__.__name__}); "
                      f"put quotes around a question or answer that holds ': ' or starts with a special character."]
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("questions"), list):
        return None, [f"{path}: must be a mapping with 'format: {FORMAT}' and a 'questions:' list "
                      f"(see index/bank.py for an example)."]
    problems: list[str] = []
    entries: list[BankEntry] = []
    body = document.body
    for number, item in enumerate(data["questions"], 1):
        where = f"{path}: entry {number}"
        if not isinstance(item, dict) or set(item) - {"question", "answer"}:
            problems.append(f"{where}: each entry has exactly the keys 'question' and 'answer'.")
            continue
        question, answer = item.get("question"), item.get("answer")
        quotes = [answer] if isinstance(answer, str) else answer
        if not isinstance(question, str) or not question.strip():
            problems.append(f"{where}: 'question' must be the question as a patient would type it.")
            continue
        where = f"{where} ({question.strip()[:60]!r})"
        if not isinstance(quotes, list) or not quotes or not all(isinstance(q, str) and q.strip() for q in quotes):
            problems.append(f"{where}: 'answer' must be a sentence of the article, or a list of them.")
            continue
        key = fold_question(question)
        if key in seen:
            problems.append(f"{where}: the same question is already in {seen[key]}; remove one of them.")
            continue
        spans, sections, missing = [], set(), []
        for quote in quotes:
            match = _quote_pattern(quote).search(body)
            if match is None:
                missing.append(quote)
                continue
            spans.append((match.start(), match.end()))
            sections.update(s.heading for s in document.sections if s.start < match.end() and match.start() < s.end)
        if missing:
            problems.append(f"{where}: this answer is not in {document.path} word for word: {missing[0][:90]!r}. "
                            f"Copy the sentence from the article exactly (punctuation and quotes included).")
            continue
        if len(sections) != 1:
            problems.append(f"{where}: its answer spans the sections {sorted(sections)}; quote sentences of one section only.")
            continue
        seen[key] = f"{path} entry {number}"
        entries.append(BankEntry(document.source_id, " ".join(question.split()), tuple(" ".join(q.split()) for q in quotes),
                                 sections.pop(), tuple(spans), number))
    return BankFile(document.source_id, str(path), hashlib.sha256(raw).hexdigest(), tuple(entries)), problems


def holding_passages(entry: BankEntry, passages) -> list[int]:
    """Rows of the passages (of entry's source) that hold one of its quotes whole; if none does (a quote longer than
    any window), those that overlap it.

    `passages`: (row, Passage) pairs of the same source.
    """
    whole = [row for row, p in passages if any(p.start <= start and end <= p.end for start, end in entry.spans)]
    if whole:
        return whole
    return [row for row, p in passages if any(p.start < end and start < p.end for start, end in entry.spans)]
