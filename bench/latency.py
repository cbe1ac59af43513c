"""Answer latency in process, where the non-floor time goes, and memory while serving.

    python bench/latency.py [--quick] [--embedder onnx|st|st-1t]

The model and the index are loaded once, then every question of eval/questions.jsonl (with
its conversation history) is answered, warm, through four paths, interleaved question by
question in rotating order so that changes in the machine's load hit all paths alike:

- floor: what a re-ranking retriever must do: embed the question, FAISS search (30 candidates),
  and the cross-encoder on the very candidates the full path re-ranks for that question (recorded
  beforehand), with the same question text; only for questions the full path retrieves for;
- floor (first stage): embed the question and search FAISS, nothing else (the floor before re-ranking);
- full: `Answerer.answer`, the whole pipeline (preparation, safety, hybrid retrieval, re-ranking,
  abstention, composition), with the answer cache off;
- full (cached): the same question asked again, served from the answer cache;
- full before the bank: the pipeline as it was before issue 20 (5 candidates re-ranked on their text, no bank
  evidence), the baseline for what reading 10 candidates with their title and section costs;
- naive: `qa.eval.baselines.NaiveDenseBaseline` (paragraph chunks, dense top 3, an answer object).

4 rounds of the 128 questions give 512 samples per path (--quick: 1 round, 128). Printed:
p50/p95 per path and the ratio full/floor at p50 (targets: full p50 <= 250 ms, p95 <= 500 ms,
within 1.2x of the floor). Then one more round with
timers wrapped around the pipeline's steps (a separate pass, so the timers' own cost never
enters the latency figures) shows where the full path's time goes, as a tree of exclusive
milliseconds per question. Memory: resident set after each loading step and after the first
100 answers (target <= 1 GB).

--embedder: "onnx" (the default) is what `Answerer.load` serves with: index/onnx_embedder.py,
ONNX Runtime on one thread, torch never imported. "st" is SentenceTransformerEmbedder with
torch's default threads (2 on 2 CPUs; what the app did before commit 31493bd), "st-1t" the
same on one torch thread (what it did from 31493bd until the ONNX switch).

Not here: the embedding options side by side (bench/embed_speed.py), large indexes (bench/scale.py).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import defaultdict

import _common
from _common import QUESTIONS, p50_p95, print_header, table

TARGET_RATIO = 1.2
TARGET_P50_MS, TARGET_P95_MS = 250, 500
TARGET_RSS_MB = 600
WARMUP_ANSWERS = 100


def _embedder(kind: str):
    if kind == "onnx":
        from qa.answerer import serving_embedder
        from qa.config import load_settings

        return serving_embedder(load_settings())
    from index import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    if kind == "st-1t":
        import torch

        torch.set_num_threads(1)
    return embedder


class StageTimer:
    """Exclusive time per call path of wrapped functions: a parent's figure excludes its wrapped children."""

    def __init__(self):
        self._stack: list[list] = []  # [label, time spent in wrapped children]
        self.exclusive: dict[tuple, float] = defaultdict(float)
        self.calls: dict[tuple, int] = defaultdict(int)
        self._restore: list[tuple] = []

    def wrap(self, owner, attribute: str, label: str) -> bool:
        original = getattr(owner, attribute, None)
        if original is None:  # the pipeline changed shape; say so in the table rather than fail
            return False

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self._stack.append([label, 0.0])
            path = tuple(frame[0] for frame in self._stack)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                _label, children = self._stack.pop()
                self.exclusive[path] += elapsed - children
                self.calls[path] += 1
                if self._stack:
                    self._stack[-1][1] += elapsed

        raw = vars(owner).get(attribute, _MISSING)
        self._restore.append((owner, attribute, raw))
        setattr(owner, attribute, staticmethod(timed) if isinstance(raw, staticmethod) else timed)
        return True

    def unwrap(self) -> None:
        for owner, attribute, original in reversed(self._restore):
            if original is _MISSING:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        self._restore.clear()


_MISSING = object()


def _wrap_pipeline(timer: StageTimer, answerer) -> list[str]:
    """Wrap the pipeline's steps; returns the labels that could not be found."""
    import index.dense
    import index.lexical
    import qa.abstain
    import qa.answerer
    import qa.language
    import qa.query
    import qa.retrieve
    import qa.spelling
    import qa.glossary

    targets = [
        (qa.answerer.Answerer, "answer", "answer (own code)"),
        (qa.query.QueryBuilder, "prepare", "prepare question"),
        (qa.language, "detect", "language detection"),
        (qa.spelling.SpellFixer, "correct", "spelling correction"),
        (qa.query.QueryBuilder, "key_terms", "key terms"),
        (qa.query.QueryBuilder, "is_known", "known-word checks"),
        (qa.glossary.Glossary, "expansions", "glossary expansion"),
        (index.lexical, "tokens", "BM25 tokenise"),
        (qa.answerer.Answerer, "_triage", "safety triage"),
        (answerer.embedder, "embed", "embed question [floor]"),
        (qa.retrieve.HybridRetriever, "search", "hybrid search (own code: fusion, union, evidence)"),
        (index.dense, "search", "FAISS search [floor]"),
        (qa.retrieve.HybridRetriever, "_rerank", "re-rank (own code)"),
        (answerer.reranker, "score", "cross-encoder [floor]"),
        (index.lexical, "scores", "BM25 scores"),
        (qa.retrieve.HybridRetriever, "_best_sentences", "sentence re-scoring"),
        (qa.retrieve.HybridRetriever, "_pick", "pick and fold duplicates"),
        (qa.answerer, "features", "abstention features"),
        (qa.abstain.AbstentionModel, "should_abstain", "abstention model"),
        (qa.answerer, "answer_object", "compose answer object"),
    ]
    return [label for owner, attribute, label in targets if not timer.wrap(owner, attribute, label)]


def _profile(answerer, questions) -> None:
    timer = StageTimer()
    missing = _wrap_pipeline(timer, answerer)
    try:
        started = time.perf_counter()
        for q in questions:
            answerer.answer(q.question, list(q.history))
        total_ms = (time.perf_counter() - started) * 1000 / len(questions)
    finally:
        timer.unwrap()
    per_question = {path: seconds * 1000 / len(questions) for path, seconds in timer.exclusive.items()}
    rows = []
    for path in sorted(per_question, key=lambda p: _tree_order(p, per_question)):
        rows.append(["  " * (len(path) - 1) + path[-1], round(timer.calls[path] / len(questions), 1),
                     round(per_question[path], 3), f"{100 * per_question[path] / total_ms:.1f}%"])
    floor = sum(ms for path, ms in per_question.items() if path[-1].endswith("[floor]"))
    print(f"\nWhere the full path's time goes (mean exclusive ms per question over {len(questions)} questions, "
          f"timers on: {total_ms:.2f} ms per answer)")
    print(table(["step (nested = called from the line above)", "calls/question", "ms/question", "share"], rows))
    print(f"floor steps (marked [floor]): {floor:.2f} ms; everything else: {total_ms - floor:.2f} ms per answer")
    if missing:
        print(f"not found (pipeline changed?): {', '.join(missing)}")


class RecordingReranker:
    """The served re-ranker, recording what it is asked to read (question, passage texts) for the floor path."""

    def __init__(self, reranker):
        self.reranker = reranker
        self.name, self.fingerprint = reranker.name, reranker.fingerprint  # what the abstention model checks
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, texts):
        self.calls.append((query, list(texts)))
        return self.reranker.score(query, self.calls[-1][1])


def _tree_order(path: tuple, per_question: dict) -> tuple:
    """Depth-first, and siblings by descending time, using each ancestor's total time."""
    key = []
    for depth in range(1, len(path) + 1):
        prefix = path[:depth]
        subtree = sum(ms for p, ms in per_question.items() if p[:depth] == prefix)
        key += [-subtree, prefix[-1]]
    return tuple(key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of the questions (128 samples per path) instead of 4")
    parser.add_argument("--embedder", choices=("st", "st-1t", "onnx"), default="onnx", help="query embedder (default: %(default)s)")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 4
    print_header(f"Answer latency, embedder {args.embedder}", "quick" if args.quick else "full")

    from index import dense
    from qa import Answerer, load_settings
    from qa.eval.questionset import load_questions
    from qa.retrieve import HybridRetriever
    from qa.eval.baselines import NaiveDenseBaseline

    memory = [("imports", _common.memory_mb())]
    questions = load_questions(QUESTIONS)
    embedder = _embedder(args.embedder)
    memory.append(("+ embedding model", _common.memory_mb()))
    import qa.rerank

    qa.rerank.CrossEncoder()  # loaded here only to count its memory apart; Answerer.load loads its own
    memory.append(("+ cross-encoder", _common.memory_mb()))
    settings = load_settings()
    answerer = Answerer.load(settings, embedder=embedder, progress=False, cache_size=0)
    memory.append((f"+ index ({len(answerer.index.passages)} passages, {answerer.index.dense.__class__.__name__})", _common.memory_mb()))
    for i in range(WARMUP_ANSWERS):
        q = questions[i % len(questions)]
        answerer.answer(q.question, list(q.history))
        if i == 0:
            memory.append(("+ first answer (word lists already loaded by the warm-up)", _common.memory_mb()))
    memory.append((f"+ {WARMUP_ANSWERS} answers", _common.memory_mb()))
    naive = NaiveDenseBaseline(settings.sources_dir, embedder, settings)
    candidates = answerer.params.candidates

    reranker = answerer.reranker
    cached = Answerer(answerer.index, embedder, settings, params=answerer.params, abstention=answerer.abstention,
                      glossary=answerer.glossary, reranker=reranker)
    # The pipeline as it was before the question bank (issue 20): 5 candidates re-ranked on their text alone, no
    # bank evidence; its own abstention model is not needed to time it (the neutral one costs the same).
    from dataclasses import replace as _replace
    from qa.abstain import AbstentionModel

    before_bank = Answerer(answerer.index, embedder, settings, abstention=AbstentionModel.neutral(), glossary=answerer.glossary,
                           reranker=reranker, cache_size=0,
                           params=_replace(answerer.params, rerank_candidates=5, rerank_weight=0.05, rerank_context="none",
                                           bank_weight=0.0))

    # What the full path embeds and re-ranks for each question, recorded once, so that the floor does the
    # same model work for the same question and nothing else.
    recording = RecordingReranker(reranker)
    recorder = Answerer(answerer.index, embedder, settings, params=answerer.params, abstention=answerer.abstention,
                        glossary=answerer.glossary, reranker=recording, cache_size=0)
    prepared, reranked = {}, {}
    for q in questions:
        recording.calls = []
        result = recorder.answer(q.question, list(q.history))
        if result.retrieval is not None:
            p = result.prepared
            prepared[q.id] = (p.query.embedding_texts(), p.query.context_weight)
            reranked[q.id] = recording.calls

    def floor(q):
        if q.id in prepared:
            texts, weight = prepared[q.id]
            dense.search(answerer.index.dense, HybridRetriever.query_vector(embedder.embed(texts), weight), candidates)
            for query, texts in reranked[q.id]:
                reranker.score(query, texts)

    def floor_first_stage(q):
        dense.search(answerer.index.dense, embedder.embed([q.question])[0], candidates)

    def full(q):
        answerer.answer(q.question, list(q.history))

    def full_cached(q):
        cached.answer(q.question, list(q.history))

    def full_before_bank(q):
        before_bank.answer(q.question, list(q.history))

    paths = {"floor": floor, "floor (first stage)": floor_first_stage, "full": full, "full (cached)": full_cached,
             "full before the bank (5 candidates, text only)": full_before_bank, "naive": naive.run}
    for q in questions[:16]:
        for run in paths.values():
            run(q)
    for q in questions:  # every question once, so "full (cached)" measures the cache
        full_cached(q)
    memory.append(("+ naive baseline and warm-up", _common.memory_mb()))

    load_before = _common.load_average()
    samples = _common.interleaved_samples(paths, questions, rounds)
    names = list(paths)
    load_after = _common.load_average()

    rows = []
    floor_p50 = p50_p95(samples["floor"])[0]
    for name in names:
        p50, p95 = p50_p95(samples[name])
        rows.append([name, len(samples[name]), p50, p95, round(p50 / floor_p50, 2)])
    print(f"\nLatency per question, warm ({len(questions)} questions x {rounds} rounds, interleaved; "
          f"load average {load_before} before, {load_after} after)")
    print(table(["path", "n", "p50 ms", "p95 ms", "p50 / floor p50"], rows))
    full_p50, full_p95 = p50_p95(samples["full"])
    ratio = full_p50 / floor_p50

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"full / floor at p50: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict(ratio <= TARGET_RATIO)}); "
          f"full p50 {full_p50:.0f} ms (target <= {TARGET_P50_MS}: {verdict(full_p50 <= TARGET_P50_MS)}), "
          f"p95 {full_p95:.0f} ms (target <= {TARGET_P95_MS}: {verdict(full_p95 <= TARGET_P95_MS)})")

    _profile(answerer, questions)

    memory.append(("after all runs", _common.memory_mb()))
    print("\nMemory (resident set of this process, MiB)")
    print(table(["after", "RSS", "peak RSS"], [[label, round(m["rss"]), round(m["peak"])] for label, m in memory]))
    served = next(m for label, m in memory if label.endswith("answers"))
    print(f"RSS after model + index + {WARMUP_ANSWERS} answers: {served['rss']:.0f} MiB "
          f"(target <= {TARGET_RSS_MB} MB: {'met' if served['rss'] * 1.048576 <= TARGET_RSS_MB else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
