"""Systems an evaluation can run side by side: the full pipeline and its baselines.

- `FullSystem`: the real answer path (`Answerer.answer`), history included.
- `FirstStageSystem`: the same pipeline without the re-ranking stage, so its gain shows side by side.
  It answers every question it does not triage: the abstention model reads the re-ranker's scores,
  so without them it has nothing fitted to decide with.
- `NoBankSystem`: the pipeline ranking without the question bank's evidence (bank_weight 0), so the bank's gain
  shows side by side; everything else as served (the abstention model still reads the nearest bank question).
- `Bm25Baseline`: BM25 alone over the same passages, top 3, no abstention or safety.
- `NaiveDenseBaseline`: the naive design: paragraph chunks, dense top 3, nothing else.

Each returns a row `{"response": answer object, "scores": [(source_id, score)], "ms": float}`.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Protocol

from index import Embedder, Passage, SearchIndex, dense, lexical, load_corpus

from ..abstain import AbstentionModel
from ..answerer import Answerer
from ..compose import Reply, answer_object
from ..config import Settings
from .questionset import Question
from ..retrieve import Hit, overlaps, rank_sources

class System(Protocol):
    name: str

    def run(self, question: Question) -> dict: ...

def _row(response: dict, hits: list[Hit], started: float) -> dict:
    scores = rank_sources((hit.passage.source_id, hit.score) for hit in hits)
    return {"response": response, "scores": scores, "ms": (time.perf_counter() - started) * 1000}

def _top_without_overlap(hits: list[Hit], k: int) -> list[Hit]:
    picked: list[Hit] = []
    for hit in hits:
        if not any(overlaps(hit.passage, other.passage) for other in picked):
            picked.append(hit)
        if len(picked) == k:
            break
    return picked

class FullSystem:
    name = "full"

    def __init__(self, answerer: Answerer):
        self.answerer = answerer

    def run(self, question: Question) -> dict:
        result = self.answerer.answer(question.question, list(question.history))
        return {"response": result.answer, "scores": result.source_ranking, "ms": result.ms}

class FirstStageSystem(FullSystem):
    name = "no-rerank"

    def __init__(self, answerer: Answerer):
        super().__init__(Answerer(answerer.index, answerer.embedder, answerer.settings,
                                  params=replace(answerer.params, rerank_candidates=0), abstention=AbstentionModel.neutral(),
                                  reranker=None, glossary=answerer.glossary, cache_size=0))


class NoBankSystem(FullSystem):
    name = "no-bank"

    def __init__(self, answerer: Answerer):
        super().__init__(Answerer(answerer.index, answerer.embedder, answerer.settings,
                                  params=replace(answerer.params, bank_weight=0.0), abstention=answerer.abstention,
                                  reranker=answerer.reranker, glossary=answerer.glossary, cache_size=0))


class Bm25Baseline:
    name = "bm25"

    def __init__(self, index: SearchIndex, settings: Settings, k: int = 3):
        self.index, self.settings, self.k = index, settings, k

    def run(self, question: Question) -> dict:
        started = time.perf_counter()
        scores = lexical.scores(self.index.bm25, lexical.tokens(question.question), len(self.index.passages))
        order = [int(i) for i in lexical.top_rows(scores, 50)]
        hits = [Hit(self.index.passages[i], i, float(scores[i])) for i in order]
        picked = _top_without_overlap(hits, self.k)
        return _row(answer_object(Reply(question.question, hits=picked), self.settings), hits, started)

class NaiveDenseBaseline:
    """Paragraph chunks (whatever their length), embedded as they are, dense top 3."""

    name = "dense-naive"

    def __init__(self, sources, embedder: Embedder, settings: Settings, k: int = 3):
        self.embedder, self.settings, self.k = embedder, settings, k
        self.paragraphs: list[Passage] = []
        for doc in load_corpus(sources).documents:
            for section in doc.sections:
                text = doc.body[section.start : section.end]
                for match in re.finditer(r"\S(?:.*?\S)?(?=\n[ \t\u00a0]*\n|\s*$)", text, re.DOTALL):
                    start, end = section.start + match.start(), section.start + match.end()
                    self.paragraphs.append(Passage(f"{doc.source_id}#{start}-{end}", doc.source_id, doc.title, section.heading,
                                                   doc.url, start, end, doc.body[start:end]))
        self.index = dense.build(embedder.embed([p.text for p in self.paragraphs]), kind="flat")

    def run(self, question: Question) -> dict:
        started = time.perf_counter()
        scores, rows = dense.search(self.index, self.embedder.embed([question.question])[0], 50)
        hits = [Hit(self.paragraphs[r], int(r), float(s)) for s, r in zip(scores, rows)]
        return _row(answer_object(Reply(question.question, hits=hits[: self.k]), self.settings), hits, started)
