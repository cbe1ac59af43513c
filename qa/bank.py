"""Keeping the question bank (index/bank.py) from review: `python -m qa bank check | add | suggest`.

- `check`: validate every bank against its article, with the same errors as `python -m index build`.
- `add "QUESTION" --source ID --quote "SENTENCE"`: append one entry to `<sources>/<ID>.questions.yaml` (creating it),
  checked first exactly as the build will check it, then written atomically (a crash leaves the old file).
- `suggest`: what a reviewer should consider adding: the misses of an evaluation (a results.jsonl from
  `python -m qa evaluate`) and, when the clinic opted in to `store_question_text`, the stored thumbs-down and
  not-covered questions; each with the article sentences nearest to it and a ready `bank add` line. A person
  decides: the article must really answer the question, and the bank is written in patients' words from the
  articles, never copied from a question set that judges the bank.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from index import load_corpus
from plumbing import files
from index.bank import SUFFIX, check_bank, fold_question, load_bank

from .errors import QAError

HEADER = ("# Questions this article answers, in patients' words, each with the article's sentence(s) that answer it.\n"
          "# Written from the article alone, never from a question set (README, \"The question bank\").\n"
          "format: 1\nquestions:\n")


def check(sources: str | Path) -> str:
    """A one-line summary of the banks under `sources`; BankError (a SearchIndexError) lists every problem."""
    corpus = load_corpus(sources)
    banks = load_bank(sources, corpus)
    count = sum(len(b.entries) for b in banks)
    without = sorted({d.source_id for d in corpus.documents} - {b.source_id for b in banks})
    return (f"{count} bank questions in {len(banks)} file(s), all quotes verbatim and within one section; "
            f"articles without a bank: {', '.join(without) or 'none'}.")


def add(sources: str | Path, source_id: str, question: str, quotes: list[str]) -> Path:
    """Append one entry to the bank of `source_id`, checked against the article and every other bank first."""
    corpus = load_corpus(sources)
    document = next((d for d in corpus.documents if d.source_id == source_id), None)
    if document is None:
        known = ", ".join(d.source_id for d in corpus.documents)
        raise QAError(f"There is no article {source_id!r} in {sources}. Choose from: {known}.")
    path = Path(document.path).with_name(source_id + SUFFIX)
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if not old.endswith("\n"):
        old += "\n"
    entry = {"question": question.strip(), "answer": quotes[0] if len(quotes) == 1 else list(quotes)}
    block = yaml.safe_dump([entry], allow_unicode=True, width=100, sort_keys=False)
    new = old + "".join(f"  {line}\n" if line else "\n" for line in block.splitlines())
    seen = {fold_question(e.question): f"{other.path} entry {e.number}"  # the other banks, for repeated questions
            for other in load_bank(sources, corpus) if other.source_id != source_id for e in other.entries}
    _bank, problems = check_bank(path, new.encode("utf-8"), document, seen)
    if problems:
        raise QAError("Not added:\n  " + "\n  ".join(problems))
    files.write_text(path, new)
    return path


@dataclass(frozen=True)
class Suggestion:
    question: str
    why: str                                   # "evaluation miss (id)", "thumbs-down", "not covered"
    candidates: list[tuple[str, str, float]]   # (source_id, sentence, cosine), best first

    def add_line(self) -> str:
        source_id, sentence, _ = self.candidates[0]
        return (f"python -m qa bank add {shlex.quote(self.question)} --source {source_id} "
                f"--quote {shlex.quote(sentence)}")


def misses_of(results_path: Path) -> list[tuple[str, str]]:
    """(question, why) for each answerable question of an evaluation whose first passage missed, or that was refused.

    Reads `report.json` beside a results.jsonl (its misses name the kind of each question)."""
    report_path = results_path.with_name("report.json") if results_path.name != "report.json" else results_path
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise QAError(f"Cannot read {report_path} ({exc}). Give the --results of a `python -m qa evaluate` run.") from exc
    return [(m["question"], f"evaluation miss ({m['id']}: {'; '.join(m['why'])})")
            for m in report.get("misses", []) if m.get("kind") == "answerable"]


def suggest(asked: list[tuple[str, str]], answerer, *, per_question: int = 3) -> list[Suggestion]:
    """For each (question, why): the article sentences nearest to it (cosine with the question), best first."""
    index = answerer.index
    if not len(index.sentences):
        return []
    suggestions = []
    for question, why in asked:
        vector = answerer.embedder.embed([question])[0]
        cosines = index.sentence_vectors @ vector
        best = cosines.argsort()[::-1][:per_question]
        suggestions.append(Suggestion(question, why, [(index.sentences[i].source_id, index.sentences[i].text, float(cosines[i]))
                                                      for i in best]))
    return suggestions


def stored_questions(events_path: Path, *, days: int) -> list[tuple[str, str]]:
    """(question, why) for the texts the clinic's insights store kept (only with `store_question_text = true`): the
    questions the articles did not cover and those before a thumbs-down, of the last `days` UTC days."""
    from datetime import timedelta

    from .insights.events import utc_now
    from .insights.database import open_for_reading, read_events

    since = (utc_now() - timedelta(days=days - 1)).date().isoformat()
    conn = open_for_reading(events_path)
    try:
        answers, ratings = read_events(conn, since=since)
    finally:
        conn.close()
    found = [(a.question, "not covered") for a in answers if a.question and a.outcome == "abstained"]
    found += [(r.question, "thumbs-down") for r in ratings if r.question and r.rating == "down"]
    unique: dict[str, tuple[str, str]] = {}
    for question, why in found:
        unique.setdefault(fold_question(question), (question, why))
    return list(unique.values())
