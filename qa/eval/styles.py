"""How a question is written, so that a weakness has a name: the evaluation reports its figures per style.

A question can show several styles (a long message full of typos), and counts in each; "plain" is a question
that shows none. All are read off the question itself and how the pipeline prepared it, so any question set
gets the breakdown without labels:

- short: five words or fewer ("side effects?");
- long: 40 words or more, or three sentences or more (a backstory before the question);
- typos: the pipeline corrected a word or spelled out chat shorthand ("wat", "u", "nueropathy");
- follow-up: it comes with earlier turns of a conversation;
- other language: not written in English.

And, for the red flags, a confusion table: the level a question set expects against the category the
pipeline gave (qa/red_flags.py), so the misses of the next blind set sort themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..query import PreparedQuestion, expand_chat_spellings
from .questionset import Question

STYLES = ("short", "long", "typos", "follow-up", "other language", "plain")
SHORT_WORDS = 5
LONG_WORDS = 40
LONG_SENTENCES = 3


def styles_of(question: Question, prepared: PreparedQuestion) -> tuple[str, ...]:
    """The styles a question shows (`prepared`: what QueryBuilder made of it).

    >>> styles_of(Question("q", "side effects?", True, ("x",)), PreparedQuestion(text="side effects?"))
    ('short',)
    """
    text = question.question
    words = re.findall(r"\w+", text)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if re.search(r"\w", s)]
    found = []
    if len(words) <= SHORT_WORDS:
        found.append("short")
    if len(words) >= LONG_WORDS or len(sentences) >= LONG_SENTENCES:
        found.append("long")
    if prepared.corrections or expand_chat_spellings(text) != text:
        found.append("typos")
    if question.history:
        found.append("follow-up")
    if prepared.language != "en":
        found.append("other language")
    return tuple(found) or ("plain",)


def by_style(questions: list[Question], styles: list[tuple[str, ...]]) -> dict[str, list[int]]:
    """Style -> the positions of its questions, in STYLES order, leaving out styles no question shows."""
    members: dict[str, list[int]] = defaultdict(list)
    for position, found in enumerate(styles):
        for style in found:
            members[style].append(position)
    return {style: members[style] for style in STYLES if members.get(style)}


NOT_FLAGGED = "not flagged"
NO_RED_FLAG = "no red flag"


def red_flag_confusion(questions: list[Question], rows: list[dict]) -> dict:
    """Expected level (or "no red flag") -> category given (or "not flagged") -> the question ids.

    Only what bears on triage is listed: every red-flag question, and the other questions that got a
    safety message anyway (false alarms). The answer object's `safety.category` names the category.
    """
    table: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for question, row in zip(questions, rows):
        safety = row["response"].get("safety") or {}
        given = safety.get("category") or safety.get("level") or NOT_FLAGGED
        expected = question.safety or NO_RED_FLAG
        if question.safety or given != NOT_FLAGGED:
            table[expected][given].append(question.id)
    return {expected: dict(given) for expected, given in table.items()}
