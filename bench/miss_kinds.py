"""Why the first passage misses: every answerable question whose first passage is not a hit, sorted into kinds.

    python bench/miss_kinds.py [--out FILE.jsonl]

Runs the three question sets through the real pipeline (as served: re-ranking and the shipped abstention
model) and, for each answerable question whose first passage holds none of its expected phrases, says which
kind of miss it is:

- refused: the pipeline abstained;
- not a candidate: no passage holding an expected phrase is among the fused candidates at all;
- not re-ranked: one is among the candidates, but below the ones the cross-encoder reads;
- wrong passage first: the cross-encoder read a passage that answers and still put another first.

Whether a "wrong passage first" is really wrong, or the question's expected phrases are too narrow (the
first passage answers in other words), takes a reader: --out writes those misses, with the first passage
and the best answering one, to a JSONL file for review.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import _common
from _common import REPO_ROOT, table

from qa.answerer import Answerer
from qa.eval.metrics import is_hit
from qa.eval.questionset import load_questions

SETS = {"tuning": REPO_ROOT / "eval" / "questions.jsonl", "held-out": REPO_ROOT / "eval" / "holdout.jsonl",
        "calibration": REPO_ROOT / "eval" / "calibration.jsonl"}
KINDS = ("refused", "not a candidate", "not re-ranked", "wrong passage first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the 'wrong passage first' misses here (JSONL) for review")
    args = parser.parse_args()
    _common.print_header("Kinds of first-passage misses", "full")
    answerer = Answerer.load(progress=False, cache_size=0)
    passages = answerer.index.passages
    counts, review = {}, []
    for name, path in SETS.items():
        kinds = Counter()
        questions = [q for q in load_questions(path) if q.kind == "answerable"]
        for q in questions:
            result = answerer.answer(q.question, list(q.history))
            shown = result.answer["passages"]
            if shown and is_hit(shown[0]["text"], q.expected):
                continue
            if result.answer["abstained"]:
                kinds["refused"] += 1
                continue
            order, relevance = result.retrieval.candidate_rows, result.retrieval.rerank_logits
            answering = [row for row in order if is_hit(passages[row].text, q.expected)]
            if not answering:
                kinds["not a candidate"] += 1
            elif answering[0] not in relevance:
                kinds["not re-ranked"] += 1
            else:
                kinds["wrong passage first"] += 1
                best = answering[0]
                review.append({"set": name, "id": q.id, "question": q.question, "history": list(q.history),
                               "expected": list(q.expected), "first": shown[0]["text"],
                               "first_relevance": relevance.get(order[0]), "answering": passages[best].text,
                               "answering_rank": order.index(best) + 1, "answering_relevance": relevance[best]})
        counts[name] = (len(questions), kinds)
    print(table(["set", "answerable", *KINDS, "hit@1"],
                [[name, n, *(k[kind] for kind in KINDS), f"{1 - sum(k.values()) / n:.3f}"] for name, (n, k) in counts.items()]))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in review)
        print(f"{len(review)} 'wrong passage first' misses written to {args.out} for review")


if __name__ == "__main__":
    main()
