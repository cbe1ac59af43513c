"""The answering pipeline: question (+ conversation) in, answer object out.

    answer cache? -> prepare (trim, small talk, language, spelling, glossary, follow-up) -> triage
                  -> embed -> hybrid retrieval -> re-rank -> abstain? -> compose

Load once (`Answerer.load`), call `ask` from any number of threads: the models, FAISS and BM25
are only read; what is written while serving is the answer cache (behind a lock) and the cache of
glossary-term vectors (filled before serving by `warm_up`). `use_index` swaps in a rebuilt index, with
a new, empty answer cache, in one assignment, so a request sees either the old index or the new one,
never a mix.

The steps are public, and `answer()` composes them, so a benchmark runs the same code: `prepare` (a
`PreparedQuestion`, whose `query` holds each text as embedded, searched and re-ranked, qa/query.py),
`question_vectors` (one row per phrasing of the query), `retrieve` (a `Retrieval`: hits, evidence, the
candidates in their re-ranked order and the re-ranker's logits) and `should_abstain`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from index import Embedder, SearchIndex, open_index
from index.onnx_embedder import OnnxEmbedder
from plumbing.environment import onnx_cache_dir

from . import abstain, asking, language, safety, suggestions, wording
from .abstain import AbstentionModel, features
from .compose import Reply, answer_object
from .config import Settings, load_settings
from .coverage import Coverage
from .glossary import Glossary, default_glossary
from .history import user_turns
from .language import NAMES
from .outcome import Outcome
from .query import PreparedQuestion, Query, QueryBuilder
from .rerank import CrossEncoder, Reranker
from .retrieve import HybridRetriever, Retrieval, RetrievalParams
from .smalltalk import MessageKind


SERVING_THREADS = 1  # one torch thread per answer: concurrent requests use the cores (bench/RESULTS.md)
# Glossary terms reach the dense side as vectors, not as text: the question's vector plus this weight times the
# mean vector of its glossary terms (cached per term). Embedding them as text costs ~10% more time per
# question for the same hit@3 (chosen on eval/questions.jsonl; README, "How well it answers").
GLOSSARY_VECTOR_WEIGHT = 0.6
# Whole answers kept per index, keyed by the question and conversation as normalised text: the example
# questions and the common ones repeat, and an answer costs the cross-encoder ~60 ms. About 10 kB each.
ANSWER_CACHE_SIZE = 512


def serving_embedder(settings: Settings) -> OnnxEmbedder:
    """How questions are embedded while serving: ONNX Runtime on SERVING_THREADS, the same vectors as
    sentence-transformers and ~2.5x faster (bench/RESULTS.md); its one-time export is cached beside the
    index directory."""
    return OnnxEmbedder(cache_dir=onnx_cache_dir(settings.index_dir), threads=SERVING_THREADS)


@dataclass
class Result:
    """An answer plus what evaluation and debugging need to see behind it."""

    answer: dict
    prepared: PreparedQuestion
    retrieval: Retrieval | None
    features: dict | None
    ms: float
    outcome: Outcome
    detail: str | None = None  # the safety level, or the kind of small talk
    rerank_top: float | None = None  # the cross-encoder's best logit; None when it read no candidate
    cached: bool = False  # served from the answer cache

    @property
    def source_ranking(self) -> list[tuple[str, float]]:
        return self.retrieval.source_ranking if self.retrieval else []


def _rerank_top(retrieval: Retrieval | None, values: dict | None) -> float | None:
    """The re-ranker's best logit, or None when it read no candidate (no re-ranker, or nothing retrieved):
    Evidence.rerank_top is 0.0 then, which would read as a score."""
    if retrieval is None or values is None or not any(hit.relevance is not None for hit in retrieval.hits):
        return None
    return values["rerank_top"]


class AnswerCache:
    """A thread-safe LRU of Results by `key()`; `size` 0 keeps nothing."""

    def __init__(self, size: int = ANSWER_CACHE_SIZE):
        self.size = size
        self._results: OrderedDict[tuple, Result] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(question: str, history: list[dict] | None) -> tuple:
        """What an answer depends on: the question and what the person said before (the assistant's turns are
        never read), case and spacing aside. Any shape of history gives a key.

        >>> AnswerCache.key("  Will the NEEDLES  hurt? ", None) == AnswerCache.key("will the needles hurt?", [])
        True
        >>> AnswerCache.key("Can I?", [{"role": "USER", "content": "x"}]) == AnswerCache.key("Can I?", None)
        True
        """
        def norm(text) -> str:
            return " ".join(str(text or "").split()).casefold()

        return norm(question if isinstance(question, str) else ""), tuple(norm(t) for t in user_turns(history))

    def get(self, key: tuple) -> Result | None:
        with self._lock:
            result = self._results.get(key)
            if result is not None:
                self._results.move_to_end(key)
            return result

    def put(self, key: tuple, result: Result) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._results[key] = result
            self._results.move_to_end(key)
            while len(self._results) > self.size:
                self._results.popitem(last=False)

    def __len__(self) -> int:
        return len(self._results)


@dataclass(frozen=True)
class _Engine:
    """Everything that depends on one index; replaced as a whole (so an index swap empties the cache)."""

    index: SearchIndex
    retriever: HybridRetriever
    queries: QueryBuilder
    coverage: Coverage
    cache: AnswerCache = field(default_factory=AnswerCache)


def packaged_collaborators(params: RetrievalParams = RetrievalParams()) -> dict:
    """The shipped parts an `Answerer` is made with: the fitted abstention model (qa/abstention.json) and the
    packaged cross-encoder (none when `params` turn re-ranking off), as keyword arguments."""
    return {"abstention": AbstentionModel.load(),
            "reranker": CrossEncoder(threads=SERVING_THREADS) if params.rerank_candidates else None}


class Answerer:
    """Answers questions from one index (swapped whole by `use_index`). Its models are passed in, never
    defaulted, so a test cannot load the real cross-encoder by forgetting one: `Answerer.load` (or
    `packaged_collaborators()`) gives the shipped ones. `reranker=None` re-ranks nothing; the glossary
    defaults to the shipped one (qa/glossary.yaml: content, not a model)."""

    def __init__(self, index: SearchIndex, embedder: Embedder, settings: Settings, *,
                 abstention: AbstentionModel, reranker: Reranker | None,
                 params: RetrievalParams = RetrievalParams(), glossary: Glossary | None = None,
                 cache_size: int = ANSWER_CACHE_SIZE):
        self.embedder = embedder
        self.cache_size = cache_size
        self.settings = settings
        self.params = params
        self.reranker = reranker
        self.abstention = abstention
        self.abstention.check_reranker(reranker if params.rerank_candidates else None)
        self.glossary = glossary or default_glossary()
        self._term_vectors: dict[str, np.ndarray] = {}
        self._engine = self._make_engine(index)

    @classmethod
    def load(cls, settings: Settings | None = None, *, embedder: Embedder | None = None,
             abstention: AbstentionModel | None = None,
             progress: bool = True, cache_size: int = ANSWER_CACHE_SIZE) -> "Answerer":
        """Load the model and the index, building the index first when missing or stale."""
        settings = settings or load_settings()
        import faiss

        # One FAISS thread per query too: faster at every index size, and no stall when the other core
        # is busy answering someone else (bench/RESULTS.md, "Index scale").
        faiss.omp_set_num_threads(SERVING_THREADS)
        embedder = embedder or serving_embedder(settings)
        index = open_index(settings.sources_dir, settings.index_dir, embedder=embedder, progress=progress)
        parts = packaged_collaborators()
        if abstention is not None:
            parts["abstention"] = abstention
        answerer = cls(index, embedder, settings, cache_size=cache_size, **parts)
        answerer.warm_up()
        return answerer

    def warm_up(self) -> None:
        """Load, before the first visitor, what would otherwise load inside someone's request:
        the word lists (about 1.5 s: English for spelling and word rarity, five others for language
        detection) and the model's first forward pass."""
        language.preload()
        abstain.preload()
        terms = list(self.glossary.entries)
        self._term_vectors.update(zip(terms, self.embedder.embed(terms)))
        self.answer(self.settings.examples[0] if self.settings.examples else "Will the needles hurt?")

    @property
    def index(self) -> SearchIndex:
        return self._engine.index

    def use_index(self, index: SearchIndex) -> None:
        self._engine = self._make_engine(index)

    def _make_engine(self, index: SearchIndex) -> _Engine:
        queries = QueryBuilder(
            corpus_texts=[p.text for p in index.passages],
            lexical_vocabulary=index.lexical_vocabulary,
            glossary=self.glossary,
            max_chars=self.settings.max_question_chars,
        )
        coverage = Coverage.of(index.source_titles, self.settings)
        return _Engine(index, HybridRetriever(index, self.params, self.reranker), queries, coverage, AnswerCache(self.cache_size))

    @property
    def coverage(self) -> Coverage:
        """What the current index holds against what `[answer] coverage` was written for (qa/coverage.py)."""
        return self._engine.coverage

    @property
    def retriever(self) -> HybridRetriever:
        """The current index's retriever (replaced whole by `use_index`)."""
        return self._engine.retriever

    def prepare(self, question: str, history: list[dict] | None = None) -> PreparedQuestion:
        """What the pipeline makes of a question before it searches (qa/query.py), on the current index."""
        return self._engine.queries.prepare(question if isinstance(question, str) else "", history)

    def ask(self, question: str, history: list[dict] | None = None) -> dict:
        """The contract's answer object for one question."""
        return self.answer(question, history).answer

    def answer(self, question: str, history: list[dict] | None = None) -> Result:
        started = time.perf_counter()
        engine = self._engine  # one engine for the whole request, even if an index swap happens
        key = engine.cache.key(question, history)
        if (cached := engine.cache.get(key)) is not None:
            answer = copy.deepcopy(cached.answer)
            answer["question"] = question if isinstance(question, str) else ""
            return replace(cached, answer=answer, ms=(time.perf_counter() - started) * 1000, cached=True)
        result = self._answer(engine, question, history, started)
        engine.cache.put(key, replace(result, answer=copy.deepcopy(result.answer)))  # callers may change their answer
        return result

    def _answer(self, engine: _Engine, question: str, history: list[dict] | None, started: float) -> Result:
        prepared = engine.queries.prepare(question if isinstance(question, str) else "", history)
        reply = Reply(question=prepared.text)
        retrieval, values = None, None
        if prepared.truncated:
            reply.notes.append(wording.truncated_note(self.settings.max_question_chars))
        if prepared.kind is not MessageKind.QUESTION:
            reply.message = wording.small_talk(prepared.kind, self.settings)
        elif finding := self._triage(question, prepared):
            reply.safety = {"level": finding.level, "category": finding.category,
                            "message": wording.safety_message(finding.level, self.settings, category=finding.category,
                                                              language=prepared.language)}
            reply.abstained = True
            reply.message = wording.after_safety(self.settings)
        else:
            if prepared.changes_medicine:
                reply.notes.insert(0, wording.MEDICINE_CAUTION)
            covered = self._covered_parts(engine, prepared)
            # Answered from its covered question alone when that is answered: the clinic request would pull the
            # passages toward itself ("how much does a visit cost" toward how many visits a course takes).
            if covered and (part := self._answered_part(engine, covered)) is not None:
                (retrieval, values), refused = part, False
            else:
                retrieval = self._retrieve(engine, prepared.query)
                values = features(prepared, retrieval.evidence)
                refused = self.should_abstain(prepared, retrieval, values)
            if covered and not refused:  # said, whether the whole message or one of its questions was answered
                reply.notes.append(wording.part_not_covered(prepared.unsupported_requests))
            if refused:
                reply.abstained = True
                reply.message = wording.abstention(self.settings, engine.coverage)
                reply.suggestions = suggestions.instead_of_abstaining(retrieval.bank_matches)
            else:
                reply.hits = retrieval.hits
                reply.suggestions = suggestions.follow_ups(retrieval.bank_matches, retrieval.hits)
            if prepared.language != "en":  # after the outcome: refused, it says only English is understood
                reply.notes.append(wording.other_language_note(NAMES.get(prepared.language), answered=not reply.abstained))
        answer = answer_object(reply, self.settings)
        answer["question"] = question if isinstance(question, str) else ""
        if prepared.kind is not MessageKind.QUESTION:
            outcome, detail = Outcome.SMALL_TALK, prepared.kind.value
        elif reply.safety:
            outcome, detail = Outcome.SAFETY, reply.safety["level"]
        else:
            outcome, detail = (Outcome.ABSTAINED if reply.abstained else Outcome.ANSWERED), None
        return Result(answer, prepared, retrieval, values, (time.perf_counter() - started) * 1000, outcome, detail,
                      _rerank_top(retrieval, values))

    def _covered_parts(self, engine: _Engine, prepared: PreparedQuestion) -> list[PreparedQuestion]:
        """A message that asks several questions, one of them a request the articles are not meant for (prices,
        insurance, booking: qa/requests.yaml): "does it help the burning, and how much is a visit?". Its other
        questions, each prepared alone; [] for any other message. Not for a topic they do not cover: in "what is
        moxibustion, and is it good for numb feet?" the second question is about the first's topic, not acupuncture."""
        if not prepared.unsupported_requests or prepared.uncovered_topics:
            return []
        parts = [engine.queries.prepare(part) for part in asking.asks_apart(prepared.asking)]
        if len(parts) < 2:
            return []
        return [p for p in parts if p.kind is MessageKind.QUESTION and not (p.unsupported_requests or p.uncovered_topics)]

    def _answered_part(self, engine: _Engine, parts: list[PreparedQuestion]) -> tuple[Retrieval, dict] | None:
        """The first of `parts` the abstention model answers, as (retrieval, features); None when it answers none."""
        for part in parts:
            retrieval = self._retrieve(engine, part.query)
            values = features(part, retrieval.evidence)
            if not self.should_abstain(part, retrieval, values):
                return retrieval, values
        return None

    def retrieve(self, query: Query) -> Retrieval:
        """The passages for `query` (`prepare(...).query`): embedded (`question_vectors`), searched with BM25 and
        FAISS, the bank's nearest questions added, re-ranked."""
        return self._retrieve(self._engine, query)

    def _retrieve(self, engine: _Engine, query: Query) -> Retrieval:
        raw, vectors = self.question_vectors(query)
        vector = engine.retriever.query_vector(vectors, query.context_weight)
        bank_vector = engine.retriever.query_vector(raw, query.context_weight) if self.params.bank_query == "question" else vector
        return engine.retriever.search(
            vector, query.question.searched, context=query.context.searched if query.context else "",
            context_weight=query.context_weight, expansions=query.question.terms, k=self.settings.max_passages,
            rerank_query=query.rerank_text, bank_vector=bank_vector,
        )

    def should_abstain(self, prepared: PreparedQuestion, retrieval: Retrieval, values: dict) -> bool:
        """Refuse as not covered? When nothing was found, or the abstention model says so on `values`
        (`features(prepared, retrieval.evidence)`); a question about changing a prescribed medicine is answered,
        never refused (qa/medicines.py)."""
        return not retrieval.hits or (not prepared.changes_medicine and self.abstention.should_abstain(values))

    def question_vectors(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """One row per phrasing (the question, then its context): as embedded, and with their glossary terms added."""
        raw = np.array(self.embedder.embed(query.embedding_texts()), dtype=np.float32)
        vectors = raw.copy()
        for row, phrasing in enumerate(query.phrasings):
            if phrasing.terms:
                vectors[row] += GLOSSARY_VECTOR_WEIGHT * np.mean([self._term_vector(t) for t in phrasing.terms], axis=0)
        return raw, vectors

    def _term_vector(self, term: str) -> np.ndarray:
        vector = self._term_vectors.get(term)
        if vector is None:  # each glossary term is embedded once (warm_up does them all before serving)
            vector = self._term_vectors[term] = self.embedder.embed([term])[0]
        return vector

    @staticmethod
    def _triage(question, prepared: PreparedQuestion) -> safety.Finding | None:
        """Red flags in the whole message (not only its first max_question_chars), then, for a follow-up, in the
        conversation it leans on."""
        whole = question if isinstance(question, str) else ""
        found = safety.assess(whole)
        if found is None and prepared.context:
            found = safety.assess(f"{prepared.context}. {whole}")
        return found
