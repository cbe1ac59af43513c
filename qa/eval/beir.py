"""BEIR mode of the evaluation: retrieval quality on a public benchmark in BEIR layout.

    DIR/corpus.jsonl    {"_id", "title", "text"} per line
    DIR/queries.jsonl   {"_id", "text"} per line
    DIR/qrels/test.tsv  query-id <tab> corpus-id <tab> score (first line a header)

The corpus is indexed with the project's own index code (title + " " + text, the same
passages, FAISS and BM25), into a directory that is kept, so a second run reuses the
embeddings. Test queries are ranked four ways, each document scored by its best passage:
the full hybrid retrieval (run.trec), the hybrid top RERANK_PASSAGES passages re-ranked by the
cross-encoder, its logit and the hybrid score each standardised over those passages and added (run-rerank.trec;
qa/rerank.py, RetrievalParams.rerank_combine), BM25 alone
(run-bm25.trec) and dense alone (run-dense.trec); nDCG@10 and Recall@100 come from ir-measures.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import Embedder, IndexSettings, SearchIndex, build_index, dense, lexical, make_embedder
from plumbing import files
from plumbing.environment import BEIR_DIR

from ..errors import QAError
from .report import write_trec
from ..rerank import CrossEncoder, Reranker
from ..retrieve import HybridRetriever, RetrievalParams, rank_sources

log = logging.getLogger(__name__)

TOP_DOCUMENTS = 100
CANDIDATE_PASSAGES = 400
RERANK_PASSAGES = 100  # ~1.2 s a query on one core
BEIR_SETTINGS = IndexSettings(title_prefix=True, sentence_vectors=False)


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_dataset(directory: str | Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(test queries by id, qrels) of a BEIR dataset; QAError naming what is missing."""
    root = Path(directory)
    needed = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / "test.tsv"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise QAError(f"Not a BEIR dataset directory: missing {', '.join(missing)}. "
                      "Expected corpus.jsonl, queries.jsonl and qrels/test.tsv.")
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if number == 1 and row and not row[-1].strip().lstrip("-").isdigit():
                continue  # header
            if len(row) < 3:
                raise QAError(f"{root / 'qrels' / 'test.tsv'} line {number}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {str(q["_id"]): str(q.get("text", "")) for q in _read_jsonl(root / "queries.jsonl")}
    test = {qid: queries[qid] for qid in qrels if qid in queries}
    if not test:
        raise QAError(f"No query in {root / 'queries.jsonl'} has judgements in qrels/test.tsv.")
    return test, qrels


def _documents(scores: np.ndarray, rows: np.ndarray, index: SearchIndex) -> list[tuple[str, float]]:
    """The documents of passages ranked best first: each once, with its best passage's score."""
    return rank_sources((index.passages[int(row)].source_id, float(score)) for score, row in zip(scores, rows))[:TOP_DOCUMENTS]


def evaluate_beir(dataset: str | Path, out: str | Path, *, index_dir: str | Path | None = None,
                  embedder: Embedder | None = None, params: RetrievalParams | None = None,
                  reranker: Reranker | None = None, progress: bool = True) -> dict:
    import ir_measures
    from ir_measures import R, nDCG

    dataset, out = Path(dataset), Path(out)
    queries, qrels = load_dataset(dataset)
    out.mkdir(parents=True, exist_ok=True)
    index_dir = Path(index_dir) if index_dir else BEIR_DIR / dataset.resolve().name
    embedder = embedder or make_embedder()  # ONNX Runtime: the build's and the queries' vectors, as served
    started = time.monotonic()
    report_build = build_index(dataset / "corpus.jsonl", index_dir, embedder=embedder, settings=BEIR_SETTINGS, progress=progress)
    build_seconds = time.monotonic() - started
    index = SearchIndex.load(index_dir, model=embedder.name)
    ids = list(queries)
    log.info(f"Ranking {len(ids)} test queries against {len(index.passages)} passages of {report_build.sources} documents...")
    vectors = embedder.embed([queries[q] for q in ids], progress=progress)
    params = params or RetrievalParams(candidates=CANDIDATE_PASSAGES)
    retriever = HybridRetriever(index, replace(params, rerank_candidates=0))
    # Scale-free: the served rerank_weight was fitted on the pipeline's own score scale; on another corpus the
    # first stage's scores spread differently, so both are standardised over the passages read (a per-query
    # z-score), measured +0.047 nDCG@10 over the served weight on a public consumer-health set (issue 20).
    reranking = HybridRetriever(index, replace(params, rerank_candidates=RERANK_PASSAGES, rerank_combine="zscore"),
                                reranker or CrossEncoder())
    runs: dict[str, list[list[tuple[str, float]]]] = {"full": [], "rerank": [], "bm25": [], "dense": []}
    count = len(index.passages)
    for qid, vector in tqdm(list(zip(ids, vectors)), desc="ranking and re-ranking", unit="q", disable=not progress, file=sys.stderr):
        text = queries[qid]
        runs["full"].append(retriever.search(vector, text, k=1).source_ranking[:TOP_DOCUMENTS])
        runs["rerank"].append(reranking.search(vector, text, k=1).source_ranking[:TOP_DOCUMENTS])
        bm25 = lexical.scores(index.bm25, lexical.tokens(text), count)
        order = lexical.top_rows(bm25, CANDIDATE_PASSAGES)
        runs["bm25"].append(_documents(bm25[order], order, index))
        scores, rows = dense.search(index.dense, vector, CANDIDATE_PASSAGES)
        runs["dense"].append(_documents(scores, rows, index))
    qrel_list = [ir_measures.Qrel(q, d, rel) for q, docs in qrels.items() if q in queries for d, rel in docs.items()]
    systems = {}
    for name, ranking in runs.items():
        suffix = "" if name == "full" else f"-{name}"
        write_trec(out / f"run{suffix}.trec", ids, ranking, name)
        run = [ir_measures.ScoredDoc(q, d, s) for q, docs in zip(ids, ranking) for d, s in docs]
        values = ir_measures.calc_aggregate([nDCG @ 10, R @ 100], qrel_list, run)
        systems[name] = {"ndcg@10": round(float(values[nDCG @ 10]), 4), "recall@100": round(float(values[R @ 100]), 4)}
    report = {
        "dataset": str(dataset), "queries": len(ids), "documents": report_build.sources, "passages": len(index.passages),
        "index": str(index_dir), "index_build_seconds": round(build_seconds, 1),
        "embedded_documents": len(report_build.embedded_sources), "reused_documents": len(report_build.reused_sources),
        "systems": systems,
    }
    files.write_json(out / "report.json", report)
    lines = [f"# BEIR evaluation: {dataset.name}", "",
             f"{len(ids)} test queries, {report_build.sources} documents ({len(index.passages)} passages); "
             f"index built in {build_seconds:.1f} s ({report['embedded_documents']} documents embedded, "
             f"{report['reused_documents']} reused).", "",
             "| system | nDCG@10 | Recall@100 |", "|---|---|---|"]
    lines += [f"| {name} | {m['ndcg@10']:.4f} | {m['recall@100']:.4f} |" for name, m in systems.items()]
    files.write_text(out / "report.md", "\n".join(lines) + "\n")
    return report
