"""How the question bank's evidence is weighed, and what the cross-encoder reads: chosen by leaving one set out.

    python bench/bank_tradeoff.py [--quick]

Every answerable question of the question sets (eval/questions.jsonl, eval/holdout.jsonl, eval/calibration.jsonl
and, when present, ../shared/questions/*.jsonl) is answered by the real pipeline (real index with its question
bank, real MiniLM embedder, real cross-encoder; the abstention model neutral, so that only ranking is judged),
for each setting of

- the bank (qa/retrieve.py, RetrievalParams): `bank_neighbours` nearest bank questions, each adding
  `bank_weight` x (cosine - `bank_center`) to the passages holding its answer (weight 0: no bank);
- the cross-encoder: how many candidates it reads (`rerank_candidates`), its weight (`rerank_weight`), and whether
  it reads the article title and section heading before the passage (`rerank_context`).

The search is in two stages (the bank's three knobs with the re-ranking as served, then the re-ranking's three
with each of the best bank settings), so it stays in minutes; each (question, passage) pair is scored by the
cross-encoder once and kept in var/bench/rerank_scores.json.

Then the choice, judged by leaving one set out: for each set, the setting with the best mean hit@1 (then hit@3)
on the other sets, scored on the set left out; and the setting chosen on all sets, the one served. Nothing here
is asserted: it prints figures for a person to read, and writes bench/bank_tradeoff.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path

import _common
from _common import REPO_ROOT, print_header, table
from rerank_tradeoff import ScoreCache, judge

from qa.abstain import AbstentionModel
from qa.answerer import Answerer
from qa.config import load_settings
from qa.eval.questionset import load_questions
from qa.rerank import CrossEncoder
from qa.retrieve import RetrievalParams

SETS = {"tuning": REPO_ROOT / "eval" / "questions.jsonl", "held-out": REPO_ROOT / "eval" / "holdout.jsonl",
        "calibration": REPO_ROOT / "eval" / "calibration.jsonl"}
SETS.update({path.stem: path for path in sorted((REPO_ROOT.parent / "shared" / "questions").glob("*.jsonl"))
             if not path.name.endswith(".notes.jsonl")})
OUT = Path(__file__).with_name("bank_tradeoff.json")

BANK_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
BANK_CENTERS = (0.4, 0.5, 0.6)
BANK_NEIGHBOURS = (1, 3, 5)
RERANK_CANDIDATES = (5, 10)
RERANK_WEIGHTS = (0.05, 0.1, 0.2)
RERANK_CONTEXTS = ("none", "title_section")
STAGE_TWO_BANKS = 3  # how many of the best bank settings the re-ranking is searched with


def score(results: dict, key, sets) -> tuple[float, float]:
    """Mean hit@1, then mean hit@3, over `sets` (each set weighs the same, whatever its size)."""
    return (sum(results[key][s]["hit@1"] for s in sets) / len(sets), sum(results[key][s]["hit@3"] for s in sets) / len(sets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer settings")
    args = parser.parse_args()
    print_header("Question bank and re-ranking trade-off", "quick" if args.quick else "full")
    settings = load_settings()
    cache = ScoreCache(CrossEncoder())
    answerer = Answerer.load(settings, abstention=AbstentionModel.neutral(), progress=False)
    answerer.reranker = cache
    print(f"Index: {len(answerer.index.passages)} passages, {len(answerer.index.bank)} bank questions; sets: "
          + ", ".join(f"{name} ({path})" for name, path in SETS.items()))
    questions = {name: [q for q in load_questions(path) if q.kind == "answerable"] for name, path in SETS.items()}
    results: dict[tuple, dict] = {}

    def run(params: RetrievalParams) -> dict:
        key = tuple(sorted(asdict(params).items()))
        if key not in results:
            answerer.params = params
            answerer.use_index(answerer.index)
            results[key] = {name: judge(answerer, qs) for name, qs in questions.items()}
            cache.save()
            changed = {k: v for k, v in asdict(params).items() if v != getattr(RetrievalParams(), k)}
            print(f"  {changed or 'served defaults'}: " + ", ".join(
                f"{s} {r['hit@1']:.3f}/{r['hit@3']:.3f}" for s, r in results[key].items()), flush=True)
        return results[key]

    served = RetrievalParams()
    weights = (0.0, 1.0, 3.0) if args.quick else BANK_WEIGHTS
    centers = (0.5,) if args.quick else BANK_CENTERS
    neighbours = (3,) if args.quick else BANK_NEIGHBOURS
    print("\nStage 1: the bank, with the re-ranking as served")
    for w, c, n in itertools.product(weights, centers, neighbours):
        if w == 0 and (c, n) != (centers[0], neighbours[0]):
            continue  # no bank: one run is enough
        run(replace(served, bank_weight=w, bank_center=c, bank_neighbours=n))
    stage_one = sorted(results, key=lambda k: score(results, k, list(SETS)), reverse=True)[:STAGE_TWO_BANKS]
    print("\nStage 2: the re-ranking, with the best bank settings")
    for key in stage_one:
        base = RetrievalParams(**dict(key))
        for n, w, context in itertools.product((5,) if args.quick else RERANK_CANDIDATES,
                                               (0.05, 0.1) if args.quick else RERANK_WEIGHTS, RERANK_CONTEXTS):
            run(replace(base, rerank_candidates=n, rerank_weight=w, rerank_context=context))

    keys = list(results)
    names = list(SETS)
    print("\nJudged by leaving one set out (chosen on the others, scored on the one left out):")
    rows, judged = [], {}
    for left_out in names:
        fitting = [s for s in names if s != left_out]
        best = max(keys, key=lambda k: score(results, k, fitting))
        judged[left_out] = {"chosen": dict(best), **results[best][left_out]}
        no_bank = next(k for k in keys if dict(k)["bank_weight"] == 0 and dict(k)["rerank_candidates"] == served.rerank_candidates
                       and dict(k)["rerank_weight"] == served.rerank_weight and dict(k)["rerank_context"] == served.rerank_context)
        knobs = {k: v for k, v in dict(best).items() if k.startswith(("bank_", "rerank_"))}
        rows.append([left_out, knobs, f"{results[no_bank][left_out]['hit@1']:.3f} / {results[no_bank][left_out]['hit@3']:.3f}",
                     f"{results[best][left_out]['hit@1']:.3f} / {results[best][left_out]['hit@3']:.3f}"])
    print(table(["left out", "chosen on the others", "no bank hit@1 / hit@3", "chosen hit@1 / hit@3"], rows))
    chosen = max(keys, key=lambda k: score(results, k, names))
    print(f"\nChosen on all sets: {({k: v for k, v in dict(chosen).items() if k.startswith(('bank_', 'rerank_'))})}")
    OUT.write_text(json.dumps({"sets": {k: str(v) for k, v in SETS.items()},
                               "results": [{"params": dict(k), "by_set": v} for k, v in results.items()],
                               "judged": judged, "chosen": dict(chosen)}, indent=1))
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    main()
