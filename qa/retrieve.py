"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, fused, re-scored by sentence.

1. Candidates: the `candidates` best passages by cosine similarity and by BM25, united.
2. Fusion (`fusion`): "rrf" adds 1/(60 + rank) from both lists; "linear" adds the cosine
   and the BM25 score squashed into [0, 1) by s / (s + bm25_half). The default was chosen
   on eval/questions.jsonl (see README, "How well it answers").
3. Sentence re-scoring: each candidate's best sentence (cosine with the question, plus its
   share of the question's terms; sentence vectors are precomputed at build time) is the one
   the answer emphasises, and its cosine feeds the abstention decision. It can also be added
   to the passage score with `sentence_weight`; that is 0 by default, as every weight tried
   ranked worse on the question sets.
4. Picking: best first; a window overlapping one already picked (same source) is dropped;
   a window saying what a picked one already says (cosine >= `duplicate_cosine`, any
   source) is folded into it as "also in", so the passages shown say different things.

`Evidence` carries the signals the abstention decision needs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from index import Passage, SearchIndex, dense, lexical

from .rerank import Reranker


@dataclass(frozen=True)
class RetrievalParams:
    fusion: str = "linear"
    candidates: int = 30
    dense_weight: float = 1.0
    lexical_weight: float = 0.5
    bm25_half: float = 6.0
    rrf_k: int = 60
    sentence_weight: float = 0.0
    duplicate_cosine: float = 0.8
    highlight_lexical_weight: float = 1.0
    # Second stage (qa/rerank.py), when the retriever has a re-ranker: the `rerank_candidates` best fused
    # candidates are scored by the cross-encoder and ordered by fused + rerank_weight * logit, above every
    # candidate it did not read. A passage after the first is shown only when the re-ranker read it and its
    # score is within `relevance_gap` of the first's (no filler). All three chosen in bench/rerank_tradeoff.py,
    # judged by leaving one question set out.
    rerank_candidates: int = 10
    rerank_weight: float = 0.1
    relevance_gap: float = 0.4
    # The question bank (index/bank.py): the `bank_neighbours` bank questions nearest the visitor's (cosine) each add
    # bank_weight * (cosine - bank_center) to the fused score of the passages holding their answer, which join the
    # candidates if neither list found them. Chosen in bench/bank_tradeoff.py, judged by leaving one question set out:
    # only a near-identical bank question counts (center 0.8); a looser one was noise (bench/RESULTS.md, "Question bank").
    bank_neighbours: int = 3
    bank_weight: float = 3.0
    bank_center: float = 0.8
    # What is compared with the bank's questions: the question as typed (with a vague follow-up's context), or the
    # vector retrieval searches with, which also holds the glossary's terms.
    bank_query: str = "question"
    # What the cross-encoder reads of a passage: its text ("none"), or the article title and section heading first
    # ("title_section"), which say what a passage is about when its sentences do not.
    rerank_context: str = "title_section"
    # How the cross-encoder's logit joins the first stage's score: "weighted", fused + rerank_weight * logit (the
    # weight fitted on the served pipeline's score scale), or "zscore", each standardised over the passages it
    # read and added with equal weight, which needs no weight and so carries to a corpus whose first-stage scores
    # sit on another scale (BEIR mode, qa/eval/beir.py).
    rerank_combine: str = "weighted"

    def __post_init__(self):
        if self.fusion not in ("rrf", "linear"):
            raise ValueError(f"Invalid fusion: {self.fusion}. Choose from 'rrf', 'linear'.")
        if self.bank_query not in ("question", "search"):
            raise ValueError(f"Invalid bank_query: {self.bank_query}. Choose from 'question', 'search'.")
        if self.rerank_context not in ("none", "title_section"):
            raise ValueError(f"Invalid rerank_context: {self.rerank_context}. Choose from 'none', 'title_section'.")
        if self.rerank_combine not in ("weighted", "zscore"):
            raise ValueError(f"Invalid rerank_combine: {self.rerank_combine}. Choose from 'weighted', 'zscore'.")
        if self.rerank_candidates < 0:
            raise ValueError(f"Invalid rerank_candidates: {self.rerank_candidates}. Use 0 (no re-ranking) or more.")


@dataclass
class Hit:
    passage: Passage
    row: int
    score: float
    highlight: str | None = None  # the sentence that best answers the question
    also_in: list[Passage] = field(default_factory=list)
    relevance: float | None = None  # the re-ranker's logit, when it read this passage


@dataclass(frozen=True)
class Evidence:
    dense_top: float        # best passage cosine
    dense_standout: float   # how many standard deviations dense_top stands above the question's mean cosine
    sentence_top: float     # best sentence cosine
    lexical_top: float      # best raw BM25 score
    agreement: float        # share of the dense top 5 also in the BM25 top 5
    rerank_top: float = 0.0     # the re-ranker's best logit (0 without a re-ranker)
    rerank_margin: float = 0.0  # how far it stands above the mean logit of the others it read
    bank_top: float = 0.0       # cosine of the nearest bank question (0 without a bank)


@dataclass(frozen=True)
class BankMatch:
    """A bank question near the visitor's, and its cosine with it."""

    question: str
    source_id: str
    section: str
    cosine: float
    passages: tuple[int, ...]


@dataclass
class Retrieval:
    hits: list[Hit]
    evidence: Evidence
    source_ranking: list[tuple[str, float]]  # every candidate source, best first
    bank_matches: list[BankMatch] = field(default_factory=list)  # every bank question, nearest first
    # Every candidate passage (index row), in the final order (re-ranked first), and the re-ranker's logit of
    # each it read: what a benchmark needs to see why a passage was or was not shown first.
    candidate_rows: list[int] = field(default_factory=list)
    rerank_logits: dict[int, float] = field(default_factory=dict)


class HybridRetriever:
    def __init__(self, index: SearchIndex, params: RetrievalParams = RetrievalParams(), reranker: Reranker | None = None):
        self.index = index
        self.params = params
        self.reranker = reranker if params.rerank_candidates else None
        self._passage_vectors = index.passage_vectors
        # The mean and covariance of the passage vectors give the mean and spread of a question's cosine with
        # every passage exactly, without computing them all: mean . q and sqrt(q' C q).
        self._mean_vector, self._covariance = _moments(self._passage_vectors)
        self._has_sentences = len(index.sentence_vectors) == len(index.sentences) and len(index.sentences) > 0
        self._bank_vectors = index.bank_vectors if index.bank and index.bank_vectors is not None else None
        # term -> the sentences holding it (sorted ids), for the term overlap that helps pick the sentence to
        # emphasise; arrays rather than sets (at 100k passages the answerer takes 83 MiB instead of 206).
        self._sentences_with: dict[str, np.ndarray] = {}
        if self._has_sentences:
            postings: dict[str, list[int]] = defaultdict(list)
            for sentence_id, tokens in enumerate(lexical.tokenize([s.text for s in index.sentences])):
                for token in dict.fromkeys(tokens):
                    postings[token].append(sentence_id)
            self._sentences_with = {t: np.array(ids, dtype=np.int64) for t, ids in postings.items()}

    @staticmethod
    def query_vector(vectors: np.ndarray, context_weight: float = 0.0) -> np.ndarray:
        """One unit vector from the question's (row 0) and, for a follow-up, its context's (row 1)."""
        combined = vectors[0] + (context_weight * vectors[1] if len(vectors) > 1 else 0.0)
        return (combined / max(float(np.linalg.norm(combined)), 1e-12)).astype(np.float32)

    def bank_matches(self, vector: np.ndarray, count: int) -> list[BankMatch]:
        """The `count` bank questions nearest `vector` (a unit vector of the visitor's question), best first."""
        if self._bank_vectors is None or count <= 0:
            return []
        cosines = self._bank_vectors @ vector
        best = np.argsort(-cosines, kind="stable")[:count]
        bank = self.index.bank
        return [BankMatch(bank[j].question, bank[j].source_id, bank[j].section, float(cosines[j]), bank[j].passages) for j in best]

    def bank_boost(self, matches: list[BankMatch]) -> dict[int, float]:
        """Passage row -> what the bank questions near the visitor's add to its fused score."""
        p = self.params
        boost: dict[int, float] = defaultdict(float)
        for match in matches:
            if match.cosine > p.bank_center:
                for row in match.passages:
                    boost[row] += p.bank_weight * (match.cosine - p.bank_center)
        return dict(boost)

    def search(self, query_vector: np.ndarray, text: str, *, context: str = "", context_weight: float = 0.0,
               expansions: tuple[str, ...] = (), k: int = 3, rerank_query: str = "",
               bank_vector: np.ndarray | None = None) -> Retrieval:
        """Best `k` passages for a question: `query_vector` from `query_vector()`; `text`, `context`,
        `context_weight` and `expansions` (glossary terms) as prepared by QueryBuilder; `rerank_query`, what
        the re-ranker reads as the question (default `text`); `bank_vector`, what is compared with the bank's
        questions (default `query_vector`)."""
        p = self.params
        count = len(self.index.passages)
        _, dense_rows = dense.search(self.index.dense, query_vector, p.candidates)
        question_tokens = lexical.tokens(text)
        bm25_all = lexical.scores(self.index.bm25, question_tokens, count)
        if context:
            bm25_all = bm25_all + context_weight * lexical.scores(self.index.bm25, lexical.tokens(context), count)
        bm25_rows = lexical.top_rows(bm25_all, p.candidates)
        matches = self.bank_matches(query_vector if bank_vector is None else bank_vector, len(self.index.bank))
        boost = self.bank_boost(matches[: p.bank_neighbours])
        rows = list(dict.fromkeys([*map(int, dense_rows), *map(int, bm25_rows), *sorted(boost)]))
        if not rows:
            return Retrieval([], Evidence(0.0, 0.0, 0.0, 0.0, 0.0), [])
        cosine = self._passage_vectors[rows] @ query_vector
        bm25 = bm25_all[rows]
        fused = self._fuse(rows, cosine, bm25, dense_rows, bm25_rows) + np.array([boost.get(r, 0.0) for r in rows])
        sentence_ids, sentence_scores = self._best_sentences(rows, query_vector, self._term_weights(question_tokens, expansions))
        final = fused + p.sentence_weight * sentence_scores
        order = np.argsort(-final, kind="stable").tolist()
        relevance: dict[int, float] = {}
        if self.reranker is not None:
            order, final, relevance = self._rerank(rerank_query or text, rows, order, final)
        hits = (
            Hit(self.index.passages[rows[i]], rows[i], float(final[i]),
                None if sentence_ids[i] is None else self.index.sentences[sentence_ids[i]].text,
                relevance=relevance.get(i))
            for i in order
        )  # made one at a time while picking: most candidates are never looked at
        top_dense = set(map(int, dense_rows[:5]))
        agreement = len(top_dense & set(map(int, bm25_rows[:5]))) / max(1, min(5, len(top_dense)))
        evidence = Evidence(
            dense_top=float(cosine.max()),
            dense_standout=self._standout(float(cosine.max()), query_vector),
            sentence_top=float(sentence_scores.max()),
            lexical_top=float(bm25_all.max()) if count else 0.0,
            agreement=agreement,
            **_rerank_evidence(list(relevance.values())),
            bank_top=matches[0].cosine if matches else 0.0,
        )
        ranking = rank_sources((self.index.passages[rows[i]].source_id, float(final[i])) for i in order)
        return Retrieval(self._pick(hits, k), evidence, ranking, matches,
                         candidate_rows=[rows[i] for i in order], rerank_logits={rows[i]: v for i, v in relevance.items()})

    def _rerank(self, query: str, rows: list[int], order: list[int], fused: np.ndarray):
        """The first `rerank_candidates` of `order` re-scored as fused + weight * logit, ahead of the rest
        (kept in their fused order, below the lowest re-scored one so scores stay sorted)."""
        p = self.params
        head, tail = order[: p.rerank_candidates], order[p.rerank_candidates :]
        logits = self.reranker.score(query, [self._rerank_text(self.index.passages[rows[i]]) for i in head])
        final = np.array(fused, dtype=np.float64)
        if p.rerank_combine == "zscore":
            final[head] = _standardised(fused[head]) + _standardised(np.asarray(logits, dtype=np.float64))
        else:
            final[head] = fused[head] + p.rerank_weight * logits
        head = sorted(head, key=lambda i: -final[i])
        if tail:
            final[tail] = fused[tail] - fused[tail].max() + final[head[-1]] - 1.0
        return head + tail, final, dict(zip(order[: p.rerank_candidates], map(float, logits)))

    def _rerank_text(self, passage: Passage) -> str:
        if self.params.rerank_context == "title_section":
            return f"{passage.title}. {passage.section}. {passage.text}"
        return passage.text

    def _standout(self, top: float, query_vector: np.ndarray) -> float:
        """(top - mean cosine over all passages) / their standard deviation: an answerable question has a few
        passages far above the rest; a question merely in the articles' vocabulary is close to all of them.

        >>> r = HybridRetriever.__new__(HybridRetriever)
        >>> r._mean_vector, r._covariance = np.array([0.5, 0.0]), np.diag([0.04, 0.01])
        >>> round(r._standout(0.9, np.array([1.0, 0.0])), 6)  # mean 0.5, sd 0.2
        2.0
        """
        q = np.asarray(query_vector, dtype=np.float64)
        spread = float(np.sqrt(max(float(q @ self._covariance @ q), 0.0)))
        return (top - float(self._mean_vector @ q)) / max(spread, 1e-6)

    def _fuse(self, rows, cosine, bm25, dense_rows, bm25_rows) -> np.ndarray:
        p = self.params
        if p.fusion == "linear":
            return p.dense_weight * cosine + p.lexical_weight * bm25 / (bm25 + p.bm25_half)
        dense_rank = {int(r): i for i, r in enumerate(dense_rows)}
        bm25_rank = {int(r): i for i, r in enumerate(bm25_rows)}
        scale = p.rrf_k + 1  # so a first place in both lists is about 2.0, like the linear scale
        return np.array([
            scale * ((1 / (p.rrf_k + dense_rank[r] + 1) if r in dense_rank else 0.0)
                     + (1 / (p.rrf_k + bm25_rank[r] + 1) if r in bm25_rank else 0.0))
            for r in rows
        ])

    @staticmethod
    def _term_weights(question_tokens: list[str], expansions: tuple[str, ...]) -> dict[str, float]:
        """Question stems for picking the sentence to emphasise; glossary terms count double,
        as they say what a lay word means ("hurt" -> "pain")."""
        weights = {t: 1.0 for t in question_tokens}
        for term in expansions:
            for t in lexical.tokens(term):
                weights[t] = 2.0
        return weights

    def _best_sentences(self, rows, query_vector, term_weights: dict[str, float]) -> tuple[list[int | None], np.ndarray]:
        """Per passage: its sentence that best answers (cosine, plus term overlap) and that sentence's cosine.

        Overlapping windows share sentences, so each distinct sentence is scored once, all in one product."""
        if not self._has_sentences:
            return [None] * len(rows), np.zeros(len(rows))
        total = sum(term_weights.values()) or 1.0
        members = [self.index.passages[r].sentence_ids for r in rows]
        distinct = list(dict.fromkeys(m for ids in members for m in ids))
        cosines = (self.index.sentence_vectors[distinct] @ query_vector).tolist()
        candidates = np.array(distinct, dtype=np.int64)
        overlap = np.zeros(len(distinct))
        for term, w in term_weights.items():
            holders = self._sentences_with.get(term)
            if holders is not None:
                found = holders[np.minimum(np.searchsorted(holders, candidates), len(holders) - 1)] == candidates
                overlap += w * found
        weight = self.params.highlight_lexical_weight
        combined = {m: cosine + weight * (share / total) for m, cosine, share in zip(distinct, cosines, overlap.tolist())}
        cosine_of = dict(zip(distinct, cosines))
        ids = [max(group, key=combined.__getitem__) for group in members]  # ties: the first sentence, as argmax
        return ids, np.array([cosine_of[m] for m in ids])

    def _pick(self, hits: Iterable[Hit], k: int) -> list[Hit]:
        picked: list[Hit] = []
        for hit in hits:
            if len(picked) == k:
                break
            if picked and self.reranker is not None and (
                    hit.relevance is None or hit.score < picked[0].score - self.params.relevance_gap):
                break  # no filler: best first, so every later passage is further below the first
            if any(overlaps(hit.passage, other.passage) for other in picked):
                continue
            twin = next((other for other in picked if self._similar(hit, other)), None)
            if twin is not None:
                if hit.passage.source_id != twin.passage.source_id and all(p.source_id != hit.passage.source_id for p in twin.also_in):
                    twin.also_in.append(hit.passage)
                continue
            picked.append(hit)
        return picked

    def _similar(self, a: Hit, b: Hit) -> bool:
        return float(self._passage_vectors[a.row] @ self._passage_vectors[b.row]) >= self.params.duplicate_cosine


def _standardised(values: np.ndarray) -> np.ndarray:
    """(values - mean) / standard deviation; zeros when they are all the same (one passage, or a tie)."""
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def _rerank_evidence(logits: list[float]) -> dict[str, float]:
    """The re-ranker's best logit and its margin over the mean of the others (0 and 0 when it read nothing).

    >>> _rerank_evidence([2.0, -4.0, -2.0])
    {'rerank_top': 2.0, 'rerank_margin': 5.0}
    """
    if not logits:
        return {}
    top = max(logits)
    rest = sorted(logits, reverse=True)[1:]
    return {"rerank_top": top, "rerank_margin": top - (sum(rest) / len(rest) if rest else top)}


def _moments(vectors: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) covariance of the rows, in float64, a chunk at a time (no float64 copy of all rows).

    >>> rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    >>> mean, cov = _moments(rows, chunk=3)
    >>> mean.tolist(), np.allclose(cov, np.cov(rows, rowvar=False, bias=True))
    ([0.5, 0.5], True)
    """
    count, dimension = vectors.shape
    total, products = np.zeros(dimension), np.zeros((dimension, dimension))
    for start in range(0, count, chunk):
        block = np.asarray(vectors[start : start + chunk], dtype=np.float64)
        total += block.sum(axis=0)
        products += block.T @ block
    if count == 0:
        return total, products
    mean = total / count
    return mean, products / count - np.outer(mean, mean)


def overlaps(a: Passage, b: Passage) -> bool:
    """Two windows of the same source sharing characters."""
    return a.source_id == b.source_id and a.start < b.end and b.start < a.end


def rank_sources(scored: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Each source once, with the score of its best candidate; `scored` comes best first."""
    best: dict[str, float] = {}
    for source_id, score in scored:
        best.setdefault(source_id, score)
    return sorted(best.items(), key=lambda item: -item[1])
