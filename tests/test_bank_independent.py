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


def spelling_closeness(a: str, b: str) -> float:
    """The larger of the two texts' character similarity (difflib's ratio) and the overlap of their words."""
    wa, wb = set(a.split()), set(b.split())
    return max(difflib.SequenceMatcher(None, a, b).ratio(), len(wa & wb) / max(1, len(wa | wb)))


def close_pairs(ours: list[str], theirs: list[str], limit: float) -> list[tuple[int, int]]:
    """The (i, j) with spelling_closeness(ours[i], theirs[j]) >= limit. difflib's ratio never exceeds the
    longest-common-subsequence ratio rapidfuzz computes for every pair at once, so difflib runs only on the
    pairs that bound lets through (150,000 pairs in a second instead of thirty)."""
    from rapidfuzz import fuzz, process

    bound = process.cdist(ours, theirs, scorer=fuzz.ratio, score_cutoff=limit * 100 - 1e-6)
    words = [set(t.split()) for t in theirs]
    pairs = []
    for i, text in enumerate(ours):
        mine = set(text.split())
        for j, other in enumerate(theirs):
            overlap = len(mine & words[j]) / max(1, len(mine | words[j]))
            if overlap >= limit or (bound[i, j] and spelling_closeness(text, other) >= limit):
                pairs.append((i, j))
    return pairs


def test_the_check_sees_both_sides():
    assert len(bank_questions()) >= 150, "the bank files are missing or nearly empty"
    assert len(set_questions()) >= 100, "no question sets found to hold the bank against"
    assert spelling_closeness(folded("How long do the needels stay in?"), folded("how long do the needels stay in for")) >= SPELLING_LIMIT


def test_no_bank_question_is_spelled_like_a_question_set_question():
    sets = set_questions()
    mine = bank_questions()
    pairs = close_pairs([folded(q) for q in mine], [folded(q) for q, _ in sets], SPELLING_LIMIT)
    copies = [f"{mine[i]!r} ~ {sets[j][0]!r} ({sets[j][1]}, {spelling_closeness(folded(mine[i]), folded(sets[j][0])):.2f})"
              for i, j in pairs]
    assert not copies, "bank questions too close to question-set questions; remove them:\n" + "\n".join(copies)


def test_the_fast_search_finds_what_comparing_every_pair_finds():
    ours = ["how long do the needels stay in", "can i drive home after", "is it safe with a pacemaker"]
    theirs = ["how long do the needels stay in for", "will i be able to drive home after", "what about pacemakers",
              "do the needles stay in long", "pacemaker safe is it with a"]
    slow = [(i, j) for i, a in enumerate(ours) for j, b in enumerate(theirs) if spelling_closeness(a, b) >= SPELLING_LIMIT]
    assert close_pairs(ours, theirs, SPELLING_LIMIT) == slow and (0, 0) in slow and (2, 4) in slow


def test_no_bank_question_rewords_a_question_set_question(real_embedder):
    sets = set_questions()
    mine = bank_questions()
    theirs = np.asarray(real_embedder.embed([q for q, _ in sets]))
    ours = np.asarray(real_embedder.embed(mine))
    cosine = ours @ theirs.T
    copies = [f"{mine[i]!r} ~ {sets[j][0]!r} ({sets[j][1]}, {cosine[i, j]:.2f})"
              for i, j in enumerate(cosine.argmax(axis=1)) if cosine[i, j] >= MEANING_LIMIT]
    assert not copies, "bank questions that reword question-set questions; remove them:\n" + "\n".join(copies)
