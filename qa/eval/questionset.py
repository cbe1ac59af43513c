"""Read and validate a question set (JSONL, one question per line; format in the contract).

Validation happens before anything runs: every problem is reported with its line number
and the field at fault, and a malformed set raises `QuestionSetError` listing them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import QuestionSetError
from ..history import HistoryError
from ..history import validate as validate_history
from ..safety import SAFETY_LEVELS

@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    expected: tuple[str, ...] = ()
    expected_sources: tuple[str, ...] = ()
    history: tuple[dict, ...] = ()
    safety: str | None = None
    line: int = 0

    @property
    def kind(self) -> str:
        """'answerable', 'safety' or 'out_of_scope'."""
        if self.safety:
            return "safety"
        return "answerable" if self.answerable else "out_of_scope"


def _problems(record, number: int) -> list[str]:
    where = f"line {number}"
    if not isinstance(record, dict):
        return [f"{where}: expected a JSON object, got {type(record).__name__}"]
    problems = []
    for name in ("id", "question"):
        if not isinstance(record.get(name), str) or not record.get(name, "").strip():
            problems.append(f"{where}: field '{name}' must be a non-empty string")
    if not isinstance(record.get("answerable"), bool):
        problems.append(f"{where}: field 'answerable' must be true or false")
    expected = record.get("expected")
    if record.get("answerable") is True and (
        not isinstance(expected, list) or not expected or not all(isinstance(e, str) and e.strip() for e in expected)
    ):
        problems.append(f"{where}: field 'expected' must be a non-empty list of phrases when answerable is true")
    elif expected is not None and (not isinstance(expected, list) or not all(isinstance(e, str) for e in expected)):
        problems.append(f"{where}: field 'expected' must be a list of strings")
    sources = record.get("expected_sources")
    if sources is not None and (not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources)):
        problems.append(f"{where}: field 'expected_sources' must be a list of source ids")
    if record.get("history") is not None:
        try:
            validate_history(record["history"])
        except HistoryError as exc:
            problems.append(f"{where}: field 'history' must be a list of {{\"role\": \"user\"|\"assistant\", \"content\": str}} ({exc})")
    level = record.get("safety")
    if level is not None and level not in SAFETY_LEVELS:
        problems.append(f"{where}: field 'safety' must be one of {', '.join(SAFETY_LEVELS)}, got {level!r}")
    unknown = set(record) - {"id", "question", "answerable", "expected", "expected_sources", "history", "safety"}
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return problems


def load_questions(path: str | Path) -> list[Question]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise QuestionSetError(f"Question set not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"Cannot read {path} ({exc}); it must be UTF-8 JSONL") from exc
    questions, problems, seen = [], [], {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        found = _problems(record, number)
        if found:
            problems += found
            continue
        if record["id"] in seen:
            problems.append(f"line {number}: field 'id' {record['id']!r} repeats line {seen[record['id']]}")
            continue
        seen[record["id"]] = number
        questions.append(Question(
            id=record["id"], question=record["question"], answerable=record["answerable"],
            expected=tuple(record.get("expected") or ()), expected_sources=tuple(record.get("expected_sources") or ()),
            history=tuple(record.get("history") or ()), safety=record.get("safety"), line=number,
        ))
    if problems:
        shown = "\n  ".join(problems[:50]) + (f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else "")
        raise QuestionSetError(f"{path} has {len(problems)} problem(s); nothing was run:\n  {shown}")
    if not questions:
        raise QuestionSetError(f"{path} holds no questions")
    return questions
