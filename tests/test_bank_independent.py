"""The question bank ranks, so it must be written from the articles, never from a question set: a bank
question copied (or lightly reworded) from a set makes every figure on that set meaningless.

This holds every bank question against every question in eval/*.jsonl and ../shared/questions/*.jsonl
(when that folder is present) by spelling (character ratio or shared words) and, with the real model, by
meaning. The thresholds are the rule the bank was cleaned with (README, "The question bank"); they catch
near-copies, not two people asking about the same topic.
"""
from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import yaml

REPO = Path(__file__).resolve().parent.parent
SPELLING_LIMIT = 0.72  # character ratio or word Jaccard at or above this: a near-copy
MEANING_LIMIT = 0.92  # MiniLM cosine at or above this: a reworded copy


def set_questions() -> list[tuple[str, str]]:
    files = sorted((REPO / "eval").glob("*.jsonl")) + sorted((REPO.parent / "shared" / "questions").glob("*.jsonl"))
    out = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if isinstance(row.get("question"), str):
                    out.append((row["question"], path.name))
    return out


def bank_questions() -> list[str]:
    out = []
    for path in sorted((REPO / "sources").glob("*.questions.yaml")):
        out += [entry["question"] for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]
    return out


def folded(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def spelling_closeness(a: str, b: str, *, at_least: float = 0.0, matcher: difflib.SequenceMatcher | None = None) -> float:
    """The larger of the two texts' character similarity and the overlap of their words. Exact from `at_least`
    up; below it, some lower value: the character similarity is skipped when its quick upper bounds already
    fall short. `matcher`: one already holding `b` (it indexes `b` once for every `a` it is compared with)."""
    wa, wb = set(a.split()), set(b.split())
    words = len(wa & wb) / max(1, len(wa | wb))
    if matcher is None:
        matcher = difflib.SequenceMatcher(None, a, b)
    else:
        matcher.set_seq1(a)
    if max(words, matcher.real_quick_ratio()) < at_least or max(words, matcher.quick_ratio()) < at_least:
        return words
    return max(matcher.ratio(), words)


def test_the_check_sees_both_sides():
    assert len(bank_questions()) >= 150, "the bank files are missing or nearly empty"
    assert len(set_questions()) >= 100, "no question sets found to hold the bank against"
    assert spelling_closeness(folded("How long do the needels stay in?"), folded("how long do the needels stay in for")) >= SPELLING_LIMIT


def test_no_bank_question_is_spelled_like_a_question_set_question():
    sets = [(folded(q), q, name, difflib.SequenceMatcher(None, "", folded(q))) for q, name in set_questions()]
    copies = []
    for question in bank_questions():
        mine = folded(question)
        score, theirs, name = max((spelling_closeness(mine, s, at_least=SPELLING_LIMIT, matcher=m), q, n) for s, q, n, m in sets)
        if score >= SPELLING_LIMIT:
            copies.append(f"{question!r} ~ {theirs!r} ({name}, {score:.2f})")
    assert not copies, "bank questions too close to question-set questions; remove them:\n" + "\n".join(copies)


def test_no_bank_question_rewords_a_question_set_question(real_embedder):
    sets = set_questions()
    mine = bank_questions()
    theirs = np.asarray(real_embedder.embed([q for q, _ in sets]))
    ours = np.asarray(real_embedder.embed(mine))
    cosine = ours @ theirs.T
    copies = [f"{mine[i]!r} ~ {sets[j][0]!r} ({sets[j][1]}, {cosine[i, j]:.2f})"
              for i, j in enumerate(cosine.argmax(axis=1)) if cosine[i, j] >= MEANING_LIMIT]
    assert not copies, "bank questions that reword question-set questions; remove them:\n" + "\n".join(copies)
