"""Proposed changes to qa/retrieve.py, measured and checked: the same answers, less time.

    python bench/proposed_speedups.py [--quick]

bench/latency.py shows where the answer path spends its time beyond the floor (embedding +
FAISS). Its largest step, tokenising one word at a time with bm25s, is fixed in main since
31493bd (`lexical.stem`, cached). What remains here:

1. `best_sentences` below, a drop-in for `HybridRetriever._best_sentences`: the same choice
   of sentence per candidate passage, with one matrix product over all candidates'
   sentences instead of one small product per candidate (~40 per question). This script
   answers every question of eval/questions.jsonl with and without it, checks that the
   answer objects are identical, and prints the full path's p50 both ways, interleaved, next
   to the floor. It runs only while qa/retrieve.py has the signature it was written against
   (commit f1f8f78), and says so otherwise. It uses the ONNX embedder (bench/onnx_embedder.py),
   the recommended query path, where the pipeline's own time weighs most.

2. For large indexes (bench/scale.py): `top_rows`, the BM25 candidates by a partial sort
   (`np.argpartition`) instead of sorting every passage's score; at 100k passages BM25 goes
   from 3.7 to 0.55 ms p50. Checked here by its doctests (`python -m doctest bench/proposed_speedups.py`).

Not here: changing any file outside bench/.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of the questions instead of 4")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 4
    print_header("Proposed speed-up: one matrix product to choose each passage's sentence", "quick" if args.quick else "full")

    from index import dense
    from onnx_embedder import OnnxEmbedder
    from qa import Answerer, load_settings
    from qa.questionset import load_questions
    from qa.retrieve import HybridRetriever

    questions = load_questions(QUESTIONS)
    embedder = OnnxEmbedder(threads=1)
    answerer = Answerer.load(load_settings(), embedder=embedder, log=lambda _m: None, progress=False)

    as_is = HybridRetriever._best_sentences
    if list(inspect.signature(as_is).parameters) != ["self", "rows", "query_vector", "term_weights"]:
        print("HybridRetriever._best_sentences has changed shape since this proposal was written; nothing to measure")
        return 0
    variants = {"full, as is": as_is, "full, sentences in one product": best_sentences}

    def using(variant, run):
        HybridRetriever._best_sentences = variant
        try:
            return run()
        finally:
            HybridRetriever._best_sentences = as_is

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
    samples = _common.interleaved_samples(paths, questions, rounds)
    floor_p50 = p50_p95(samples["floor"])[0]
    rows = [[name, len(s), *p50_p95(s), round(p50_p95(s)[0] / floor_p50, 2)] for name, s in samples.items()]
    print(f"\n{len(questions)} questions x {rounds} rounds, interleaved; load average {_common.load_average()}")
    print(table(["path", "n", "p50 ms", "p95 ms", "p50 / floor p50"], rows))
    for name in list(variants)[1:]:
        saved = p50_p95(samples["full, as is"])[0] - p50_p95(samples[name])[0]
        print(f"{name}: saves {saved:.2f} ms per answer at p50; answer objects identical to as is: "
              + (f"yes, all {len(questions)}" if not differ[name] else "NO: " + ", ".join(differ[name])))
    return 1 if any(differ.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
