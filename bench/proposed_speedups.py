"""Proposed changes to index/lexical.py, qa/query.py and qa/retrieve.py, measured and checked.

    python bench/proposed_speedups.py [--quick]

bench/latency.py shows that, after the floor (embedding + FAISS), the largest step of the
answer path is tokenising single words with bm25s: `QueryBuilder.key_terms` calls
`lexical.tokenize([word])` twice per word of the question, `is_known` and the specific-term
check once more per key term; about 15 calls and ~1 ms per question, almost all of it
bm25s's per-call overhead (a stemmed word is a few microseconds of work).

The proposal: one cached function in index/lexical.py,

    @lru_cache(maxsize=100_000)
    def stem_word(word: str) -> tuple[str, ...]:
        "Tokens of a single word: () for a stop word, else its stem (cached: questions reuse few words)."
        return tuple(tokenize([word])[0])

and, in qa/query.py, `lexical.stem_word(word)` wherever it now calls `lexical.tokenize([word])`
or `lexical.tokenize([t])` for one word (key_terms, is_known, specific_terms). Tokenising
a word does not depend on anything else, so the cache cannot change a result.

This script applies the same thing at run time (single-word calls of `lexical.tokenize`
answered from the cache), answers every question of eval/questions.jsonl with and without
it, checks the answer objects are identical, and prints the full path's p50 both ways,
interleaved, next to the floor. It uses the ONNX embedder (bench/onnx_embedder.py), the
recommended query path, where the pipeline's own time weighs most.

Second proposal: `best_sentences` below, a drop-in for `HybridRetriever._best_sentences`
that makes the same choice with one matrix product over all candidates' sentences instead
of one per candidate (~40 small products per question); measured the same way when
qa/retrieve.py still has the signature it was written against.

Third, for large indexes only (bench/scale.py): `top_rows`, BM25 candidates by a partial
sort instead of sorting every passage's score (3.6 -> 0.5 ms at 100k passages).

Not here: changing any file outside bench/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import lru_cache

import _common
from _common import QUESTIONS, p50_p95, print_header, table

import numpy as np  # noqa: E402


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the `k` highest positive scores, best first: what qa/retrieve.py gets today with
    `np.argsort(-scores, kind="stable")[:k]` then dropping zeros, without sorting every score.

    Ties at the k-th score may pick other rows than a full sort would (both are correct).

    >>> top_rows(np.array([0.0, 3.0, 1.0, 2.0, 0.0]), 2).tolist()
    [1, 3]
    >>> top_rows(np.array([0.0, 1.0]), 5).tolist()
    [1]
    """
    if k < len(scores):
        candidates = np.argpartition(-scores, k - 1)[:k]
    else:
        candidates = np.arange(len(scores))
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    return candidates[scores[candidates] > 0]


def best_sentences(self, rows, query_vector, term_weights):
    """Drop-in for `HybridRetriever._best_sentences` (as of commit f1f8f78): the same choice, with one
    matrix product over all candidates' sentences instead of one small product per candidate."""
    if not self._has_sentences:
        return [None] * len(rows), np.zeros(len(rows))
    total = sum(term_weights.values()) or 1.0
    members = [self.index.passages[r].sentence_ids for r in rows]
    flat = [m for ids in members for m in ids]
    sims = self.index.sentence_vectors[flat] @ query_vector
    overlap = np.array([sum(w for t, w in term_weights.items() if t in self._sentence_tokens[m]) / total for m in flat])
    combined = sims + self.params.highlight_lexical_weight * overlap
    ids, scores, at = [], [], 0
    for group in members:
        best = at + int(np.argmax(combined[at : at + len(group)]))
        ids.append(flat[best])
        scores.append(float(sims[best]))
        at += len(group)
    return ids, np.array(scores)


class CachedWordTokenize:
    """`lexical.tokenize` with one-word calls answered from an lru_cache (the proposal's stem_word)."""

    def __init__(self, original):
        self.original = original
        self.stem_word = lru_cache(maxsize=100_000)(lambda word: tuple(original([word])[0]))

    def __call__(self, texts, *args, **kwargs):
        if len(texts) == 1 and not args and not kwargs and texts[0] and not any(c.isspace() for c in texts[0]):
            return [list(self.stem_word(texts[0]))]
        return self.original(texts, *args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of the questions instead of 4")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 4
    print_header("Proposed speed-ups: cached single-word stemming, one product for sentence choice", "quick" if args.quick else "full")

    import index.lexical
    from index import dense
    from onnx_embedder import OnnxEmbedder
    from qa import Answerer, load_settings
    from qa.questionset import load_questions

    questions = load_questions(QUESTIONS)
    embedder = OnnxEmbedder(threads=1)
    answerer = Answerer.load(load_settings(), embedder=embedder, log=lambda _m: None, progress=False)
    original = index.lexical.tokenize
    cached = CachedWordTokenize(original)

    import inspect

    from qa.retrieve import HybridRetriever

    as_is = {"tokenize": original, "best_sentences": HybridRetriever._best_sentences}
    variants = {"full, as is": as_is, "full, stem_word cached": {**as_is, "tokenize": cached}}
    # The second proposal only where qa/retrieve.py still has the shape it was written against.
    if list(inspect.signature(HybridRetriever._best_sentences).parameters) == ["self", "rows", "query_vector", "term_weights"]:
        variants["full, both proposals"] = {"tokenize": cached, "best_sentences": best_sentences}
    else:
        print("HybridRetriever._best_sentences has changed shape; its proposal is not measured")

    def using(variant, run):
        index.lexical.tokenize = variant["tokenize"]
        HybridRetriever._best_sentences = variant["best_sentences"]
        try:
            return run()
        finally:
            index.lexical.tokenize = original
            HybridRetriever._best_sentences = as_is["best_sentences"]

    def answers(variant) -> list[str]:
        return using(variant, lambda: [json.dumps(answerer.answer(q.question, list(q.history)).answer, sort_keys=True)
                                       for q in questions])

    reference = answers(as_is)
    differ = {name: [q.id for q, a, b in zip(questions, reference, answers(variant)) if a != b] for name, variant in variants.items()}

    def floor(q):
        dense.search(answerer.index.dense, embedder.embed([q.question])[0], answerer.params.candidates)

    def full_with(variant):
        return lambda q: using(variant, lambda: answerer.answer(q.question, list(q.history)))

    paths = {"floor": floor, **{name: full_with(variant) for name, variant in variants.items()}}
    samples = {name: [] for name in paths}
    names = list(paths)
    for r in range(rounds):
        for i, q in enumerate(questions):
            shift = (i + r) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                paths[name](q)
                samples[name].append((time.perf_counter() - started) * 1000)
    floor_p50 = p50_p95(samples["floor"])[0]
    rows = [[name, len(s), *p50_p95(s), round(p50_p95(s)[0] / floor_p50, 2)] for name, s in samples.items()]
    print(f"\n{len(questions)} questions x {rounds} rounds, interleaved; load average {_common.load_average()}")
    print(table(["path", "n", "p50 ms", "p95 ms", "p50 / floor p50"], rows))
    for name in list(variants)[1:]:
        saved = p50_p95(samples["full, as is"])[0] - p50_p95(samples[name])[0]
        print(f"{name}: saves {saved:.2f} ms per answer at p50; answer objects identical to as is: "
              + (f"yes, all {len(questions)}" if not differ[name] else "NO: " + ", ".join(differ[name])))
    print(f"stem_word cache: {cached.stem_word.cache_info().currsize} words")
    return 1 if any(differ.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
