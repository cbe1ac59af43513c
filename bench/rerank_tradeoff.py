"""How the re-ranking stage is chosen: quality against the number of candidates it reads, and what each costs.

    python bench/rerank_tradeoff.py [--quick]

Every answerable question of the three question sets (eval/questions.jsonl, eval/holdout.jsonl,
eval/calibration.jsonl) is answered by the real pipeline (real index, real MiniLM embedder, real
cross-encoder; the abstention model neutral, so that only the ranking is judged) for each setting of

- `rerank_candidates` N: how many of the best fused candidates the cross-encoder reads (0: none);
- `rerank_weight` w: final = fused + w * logit (100: the cross-encoder's order alone);
- the text it reads as the question: with the glossary's terms for lay words the articles never use
  ("unknown", as served: `Answerer.rerank_query`), as corrected ("plain"), or with every glossary
  term ("glossary").

The cross-encoder's score of a (question, passage) pair does not depend on what else is scored
(batches of one; qa/rerank.py), so each pair is scored once and kept in var/bench/rerank_scores.json;
a second run costs seconds. Then:

1. the table: hit@1 / hit@3 per set for each setting, and the cross-encoder's milliseconds per question
   for each N (measured without the score cache, interleaved);
2. the choice, judged by leaving one set out: for each set, the setting with the best hit@1 (then
   hit@3, then the fewest candidates) on the other two, scored on the one left out, for each question
   text. For the served text (SERVED_QUERY), per N: that judged ranking and the abstention model
   (fitted on the re-ranker's scores at that N, `choose_l2`, also leaving one set out); served are the
   fewest candidates within N_TOLERANCE of the best of both, with their weight;
3. the relevance gap for the second and third passages (shown only when their score is within the gap
   of the first's): the smallest gap whose hit@3 on the fitting sets stays within GAP_TOLERANCE of no
   gap, judged the same way, with the mean number of passages shown. (An absolute floor on the logit
   was tried first: on the held-out set every floor from -10 up cost hit@3, as the cross-encoder
   gives some answering passages of colloquial questions logits below -10.)

It writes bench/rerank_tradeoff.png (hit@1 and hit@3 against N, with the cost) and
bench/rerank_tradeoff.json. Nothing here is asserted: it prints figures for a person to read.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import _common
import numpy as np
from _common import REPO_ROOT, print_header, table

from qa.abstain import AbstentionModel
from qa.eval.abstention_fit import choose_l2
from qa.answerer import Answerer
from qa.config import load_settings
from qa.eval.metrics import emphasis_holds_answer, is_hit
from qa.eval.questionset import load_questions
from qa.rerank import CrossEncoder
from qa.retrieve import RetrievalParams

SETS = {"tuning": REPO_ROOT / "eval" / "questions.jsonl", "held-out": REPO_ROOT / "eval" / "holdout.jsonl",
        "calibration": REPO_ROOT / "eval" / "calibration.jsonl"}
CANDIDATES = (0, 5, 8, 10, 12, 15, 20, 30)
WEIGHTS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 100.0)
GAPS = (1000.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3)
GAP_TOLERANCE = 0.02  # about one question of a 60-80 question set
N_TOLERANCE = 0.01
CACHE = REPO_ROOT / "var" / "bench" / "rerank_scores.json"
TIMED_QUESTIONS = 40


class ScoreCache:
    """The real cross-encoder behind a (query, text) -> logit memo kept on disk."""

    def __init__(self, model: CrossEncoder, path: Path = CACHE):
        self.model, self.path = model, path
        self.name, self.fingerprint = model.name, model.fingerprint
        self.scores: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
        if self.scores.get("\x1ffingerprint") != model.fingerprint:
            self.scores = {"\x1ffingerprint": model.fingerprint}

    def score(self, query, texts):
        keys = [f"{query}\x1f{t}" for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.scores]
        if missing:
            for i, value in zip(missing, self.model.score(query, [texts[i] for i in missing])):
                self.scores[keys[i]] = float(value)
        return np.array([self.scores[k] for k in keys], dtype=np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.scores))
        tmp.replace(self.path)


# The question text served. Chosen by hand among the three, disclosed: on the question sets "plain" ranks
# one or two questions better, but it leaves a question naming a medicine the articles never name ("I'm on
# warfarin, is it OK?", the product's own example) with nothing for the cross-encoder to match, so every
# passage scores low and filler follows the right one; "glossary" adds the glossary's broad everyday-word
# terms too ("calm" -> "drowsy relaxed fall asleep energized") and ranks worst.
SERVED_QUERY = "unknown"
QUERIES = {
    # as served: the glossary's terms for lay words the articles never use ("warfarin": "blood thinners")
    "unknown": lambda p: p.query.rerank_text,
    # as corrected, no glossary terms
    "plain": lambda p: " ".join(phrasing.embedded for phrasing in reversed(p.query.phrasings)),
    # every glossary term, as BM25 reads them
    "glossary": lambda p: " ".join(phrasing.searched for phrasing in reversed(p.query.phrasings)),
}


def judge(answerer: Answerer, questions: list) -> dict:
    """hit@1, hit@3, mean passages shown and emphasis@1 over answerable questions."""
    first, top3, shown, emphasis = 0, 0, 0, 0
    for q in questions:
        passages = answerer.answer(q.question, list(q.history)).answer["passages"]
        hits = [is_hit(p["text"], q.expected) for p in passages]
        first += bool(hits) and hits[0]
        top3 += any(hits[:3])
        shown += len(passages)
        emphasis += emphasis_holds_answer(passages, q.expected)
    n = len(questions)
    return {"hit@1": first / n, "hit@3": top3 / n, "shown": shown / n, "emphasis@1": emphasis / n}


def configure(answerer: Answerer, params: RetrievalParams, query_kind: str) -> None:
    answerer.params = params
    answerer.rerank_query = QUERIES[query_kind]
    answerer.use_index(answerer.index)


def leave_one_out(results: dict, keys: list, key_of=lambda r: (r["hit@1"], r["hit@3"])) -> tuple[dict, object]:
    """For each set: the key best on the other sets (by key_of, summed per set), and its figures there."""
    judged = {}
    for left_out in SETS:
        fitting = [s for s in SETS if s != left_out]
        best = max(keys, key=lambda k: tuple(sum(v) for v in zip(*(key_of(results[k][s]) for s in fitting))))
        judged[left_out] = (best, results[best][left_out])
    chosen = max(keys, key=lambda k: tuple(sum(v) for v in zip(*(key_of(results[k][s]) for s in SETS))))
    return judged, chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer settings (N in 0, 10, 20; three weights)")
    args = parser.parse_args()
    candidates = (0, 10, 20) if args.quick else CANDIDATES
    weights = (0.1, 0.3, 100.0) if args.quick else WEIGHTS
    print_header("Re-ranking trade-off", "quick" if args.quick else "full")
    settings = load_settings()
    model = CrossEncoder()
    cache = ScoreCache(model)
    answerer = Answerer.load(settings, abstention=AbstentionModel.neutral(), progress=False)
    answerer.reranker = cache
    questions = {name: [q for q in load_questions(path) if q.kind == "answerable"] for name, path in SETS.items()}

    results: dict[tuple, dict] = {}
    for query_kind in QUERIES:
        for n in candidates:
            for w in (weights if n else (0.0,)):
                params = replace(RetrievalParams(), rerank_candidates=n, rerank_weight=w, relevance_gap=GAPS[0])
                configure(answerer, params, query_kind)
                results[(query_kind, n, w)] = {name: judge(answerer, qs) for name, qs in questions.items()}
                print(f"  {query_kind} N={n} w={w}: " + ", ".join(f"{s} {r['hit@1']:.3f}/{r['hit@3']:.3f}"
                                                                   for s, r in results[(query_kind, n, w)].items()), flush=True)
        cache.save()

    # Cost of the stage per N: the real model, no cache, on the first questions of the tuning set.
    timed = questions["tuning"][:TIMED_QUESTIONS]
    milliseconds = {}
    answerer.reranker = model
    for n in candidates:
        configure(answerer, replace(RetrievalParams(), rerank_candidates=n), SERVED_QUERY)
        started = time.perf_counter()
        for q in timed:
            answerer.answer(q.question, list(q.history))
        milliseconds[n] = (time.perf_counter() - started) * 1000 / len(timed)

    rows = []
    for (kind, n, w), by_set in results.items():
        rows.append([kind, n, w, *(f"{by_set[s]['hit@1']:.3f} / {by_set[s]['hit@3']:.3f}" for s in SETS),
                     f"{milliseconds[n]:.0f}"])
    print(table(["query", "N", "w", *(f"{s} hit@1 / hit@3" for s in SETS), "ms per answer"], rows))

    judged, chosen = {}, {}
    for query_kind in QUERIES:
        keys = [k for k in results if k[0] == query_kind or k[1] == 0]
        judged[query_kind], chosen[query_kind] = leave_one_out(results, keys)
        print(f"\nQuestion text {query_kind!r}: N and w judged by leaving one set out (chosen on the other two, "
              "scored on the one left out):")
        print(table(["left out", "chosen (query, N, w)", "hit@1", "hit@3"],
                    [[s, k, f"{r['hit@1']:.3f}", f"{r['hit@3']:.3f}"] for s, (k, r) in judged[query_kind].items()]))
        print(f"Chosen on all three sets: {chosen[query_kind]}")
    overall = leave_one_out(results, list(results))[1]
    print(f"\nBest of every setting on all three sets: {overall}. Served: the {SERVED_QUERY!r} text (see SERVED_QUERY).")

    # The re-ranker's scores feed the abstention model too, and how many candidates it reads changes them (the
    # margin is over the others read). So N is chosen on both: per N (its weight chosen on all three sets),
    # the ranking and the abstention model, each judged by leaving one set out.
    answerer.reranker = cache
    everything = {name: [q for q in load_questions(path) if q.kind != "safety"] for name, path in SETS.items()}
    per_n = {}
    for n in (c for c in candidates if c):
        keys = [k for k in results if k[0] == SERVED_QUERY and k[1] == n]
        ranking_judged, key = leave_one_out(results, keys)
        configure(answerer, replace(RetrievalParams(), rerank_candidates=n, rerank_weight=key[2], relevance_gap=GAPS[0]),
                  SERVED_QUERY)
        rows, groups = [], []
        for name, qs in everything.items():
            for q in qs:
                result = answerer.answer(q.question, list(q.history))
                if result.features is not None:
                    rows.append((result.features, q.kind == "out_of_scope"))
                    groups.append(name)
        abstention, _ = choose_l2(rows, groups, repeats=1)
        per_n[n] = {"w": key[2], "hit@1": sum(r["hit@1"] for _, r in ranking_judged.values()) / len(SETS),
                    "hit@3": sum(r["hit@3"] for _, r in ranking_judged.values()) / len(SETS),
                    "oos_recall": abstention.oos_recall, "false_abstention": abstention.false_abstention}
    cache.save()
    best_hit1 = max(v["hit@1"] for v in per_n.values())
    best_recall = max(v["oos_recall"] for v in per_n.values())
    n = min(c for c, v in per_n.items()
            if v["hit@1"] >= best_hit1 - N_TOLERANCE and v["oos_recall"] >= best_recall - N_TOLERANCE)
    kind, w = SERVED_QUERY, per_n[n]["w"]
    print(f"\nCandidates read, {SERVED_QUERY!r} text, judged by leaving one set out (means over the three sets left out):")
    print(table(["N", "w", "hit@1", "hit@3", "out-of-scope recall", "false abstention", "ms per answer"],
                [[c, v["w"], f"{v['hit@1']:.3f}", f"{v['hit@3']:.3f}", f"{v['oos_recall']:.3f}", f"{v['false_abstention']:.3f}",
                  f"{milliseconds[c]:.0f}"] for c, v in per_n.items()]))
    print(f"Chosen: N {n}, w {w}: the fewest candidates within {N_TOLERANCE} of the best hit@1 and of the best "
          "out-of-scope recall")

    gap_results = {}
    answerer.reranker = cache
    for gap in GAPS:
        configure(answerer, replace(RetrievalParams(), rerank_candidates=n, rerank_weight=w, relevance_gap=gap), kind)
        gap_results[gap] = {name: judge(answerer, qs) for name, qs in questions.items()}
    cache.save()

    def gap_choice(fitting: list[str]) -> float:
        base = {s: gap_results[GAPS[0]][s]["hit@3"] for s in fitting}
        return min(g for g in GAPS if all(gap_results[g][s]["hit@3"] >= base[s] - GAP_TOLERANCE for s in fitting))

    print("\nRelevance gap for passages 2 and 3 (hit@3 / mean passages shown):")
    print(table(["gap", *SETS], [[g, *(f"{gap_results[g][s]['hit@3']:.3f} / {gap_results[g][s]['shown']:.2f}" for s in SETS)]
                                 for g in GAPS]))
    gap_judged = {}
    for left_out in SETS:
        g = gap_choice([s for s in SETS if s != left_out])
        gap_judged[left_out] = (g, gap_results[g][left_out])
    print(table(["left out", "gap", "hit@3", "shown"],
                [[s, g, f"{r['hit@3']:.3f}", f"{r['shown']:.2f}"] for s, (g, r) in gap_judged.items()]))
    gap = gap_choice(list(SETS))
    print(f"Chosen on all three sets: gap {gap}")

    out = {"machine": _common.machine(), "results": {repr(k): v for k, v in results.items()},
           "ms_per_answer": milliseconds,
           "leave_one_out": {q: {s: [repr(k), r] for s, (k, r) in j.items()} for q, j in judged.items()},
           "chosen": {q: repr(k) for q, k in chosen.items()}, "per_n": per_n, "served": repr((kind, n, w)), "gaps": {str(g): v for g, v in gap_results.items()},
           "gap_leave_one_out": {s: [g, r] for s, (g, r) in gap_judged.items()}, "gap": gap}
    (REPO_ROOT / "bench" / "rerank_tradeoff.json").write_text(json.dumps(out, indent=1) + "\n")
    _plot(results, milliseconds, kind, candidates)


def _plot(results: dict, milliseconds: dict, kind: str, candidates) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (quality, cost) = plt.subplots(1, 2, figsize=(11, 4))
    for name in SETS:
        best = [max((r[name] for (k, n, _), r in results.items() if k == kind and n == c), key=lambda r: r["hit@1"])
                for c in candidates]
        quality.plot(candidates, [r["hit@1"] for r in best], marker="o", label=f"{name} hit@1")
        quality.plot(candidates, [r["hit@3"] for r in best], marker="x", linestyle="--", label=f"{name} hit@3")
    quality.set_xlabel("candidates re-ranked (N)")
    quality.set_ylabel("share of answerable questions")
    quality.set_title("Quality (best weight per N)")
    quality.legend(fontsize=7)
    cost.plot(candidates, [milliseconds[c] for c in candidates], marker="o")
    cost.set_xlabel("candidates re-ranked (N)")
    cost.set_ylabel("ms per answer (whole pipeline)")
    cost.set_title("Cost, one thread")
    fig.tight_layout()
    fig.savefig(REPO_ROOT / "bench" / "rerank_tradeoff.png", dpi=100)


if __name__ == "__main__":
    main()
