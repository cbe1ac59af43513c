"""What to ask next: bank questions (index/bank.py) offered under an answer, as clickable chips.

Under an answer, up to `COUNT` bank questions of the sections its passages come from, nearest to the visitor's
question first, then, if fewer, the nearest of the others (down to `FLOOR`). Never the question just asked, nor
one it is a paraphrase of (cosine `SAME_QUESTION` or more), nor one whose answer is already on screen (its quote
is in a passage shown), and each answer sentence once.

After an abstention, up to `COUNT` of the nearest bank questions (down to `FLOOR`), which the articles do answer:
the refusal may have been wrong (about one answerable question in twenty is refused), and when it was right the
chips show what can be asked. After a safety message, none: nothing should compete with getting help.
"""

from __future__ import annotations

from .retrieve import BankMatch, Hit

COUNT = 3
FLOOR = 0.45
SAME_QUESTION = 0.9


def _usable(match: BankMatch, shown_rows: set[int], seen_answers: set) -> bool:
    return (match.cosine < SAME_QUESTION and match.cosine >= FLOOR and not shown_rows & set(match.passages)
            and match.passages not in seen_answers)


def follow_ups(matches: list[BankMatch], hits: list[Hit], count: int = COUNT) -> list[str]:
    """`matches`: every bank question, nearest first (Retrieval.bank_matches); `hits`: the passages shown."""
    shown_rows = {hit.row for hit in hits}
    sections = {(hit.passage.source_id, hit.passage.section) for hit in hits}
    picked: list[str] = []
    seen: set = set()
    for same_section in (True, False):
        for match in matches:
            if len(picked) == count:
                return picked
            if ((match.source_id, match.section) in sections) == same_section and match.question not in picked \
                    and _usable(match, shown_rows, seen):
                picked.append(match.question)
                seen.add(match.passages)
    return picked


def instead_of_abstaining(matches: list[BankMatch], count: int = COUNT) -> list[str]:
    """The nearest bank questions with different answers, after a refusal."""
    picked: list[str] = []
    seen: set = set()
    for match in matches:
        if len(picked) == count or match.cosine < FLOOR:
            break
        if match.passages not in seen:
            picked.append(match.question)
            seen.add(match.passages)
    return picked
