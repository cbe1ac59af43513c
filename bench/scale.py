"""How the index scales: build cost, disk, memory, query time and HNSW recall at 1k, 10k and 100k passages.

    python bench/scale.py [--quick]

The corpus is synthetic, in BEIR corpus.jsonl layout under a temporary directory: each
document is 1 to 3 sentences (at most 560 characters, so one passage each), every sentence
either a sentence of sources/*.md or a splice of the first part of one and the last part of
another. Indexes are built with `index.build_index` and `IndexSettings(sentence_vectors=False)`
(the app also embeds every sentence, which roughly doubles embedding time and vectors).

Vectors, said in every table row:
- "real": the shipped SentenceTransformerEmbedder embeds every passage (1k and 10k);
- "proxy": no model at build time. A passage's vector is the length-weighted sum of the
  real vectors of the source sentences it is made of, plus a little noise, normalised. It
  keeps the clustered geometry of real text (which HNSW's recall depends on) at no cost.
  At 10k it is built both ways, and the proxy's recall is compared with the real one;
  real embedding of 100k passages would take longer than this benchmark may, so the real
  throughput (passages/s, measured on a sample) gives the real build time by extrapolation;
- "random": random unit vectors, the hardest case for HNSW, as a lower bound on recall.

Each size is built in a fresh process (so its peak memory is its own), then served in
another one: load the index and the model, answer the 228 questions of eval/ (questions
and holdout) with the hybrid retriever. For every size, exact search (IndexFlatIP) and
HNSW (index/dense.py: M=32, efConstruction=200, efSearch=HNSW_EF_SEARCH, 256) are built from the same
vectors and compared: build seconds, query p50, recall@10 and @30 (30 candidates is what
qa/ asks for; ties counted, see `recall`) of HNSW against exact search, and HNSW's recall and time at efSearch 64 to
1024. FAISS runs on its default threads (2 here) and on one: on a busy 2-core machine its
parallel scan of a flat index stalls. A sweep over more sizes (dense search only, proxy
vectors, plus random vectors at 50k) finds where exact search passes 5 ms p50. The figures
go to bench/scale.png, the raw figures to bench/scale.json (--replot redraws the plot from them).

--quick: 1k real and 10k proxy builds, a short sweep; under 2 minutes.
Not here: answer latency (bench/latency.py), embedding options (bench/embed_speed.py).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common
from index.dense import HNSW_EF_SEARCH  # noqa: E402  (after _common puts the repository on sys.path)
from _common import HOLDOUT, QUESTIONS, REPO_ROOT, p50_p95, print_header, table

import numpy as np  # noqa: E402

MAX_DOC_CHARS = 560  # under IndexSettings.max_chars (600): one passage per document
NOISE = 0.1  # norm of the noise added to a proxy vector (unit length) before normalising again
FLAT_BUDGET_MS = 5.0
TARGET_RECALL = 0.98
RECALL_AXIS_FROM = 0.9
EF_SEARCH_SWEEP = (64, 128, 256, 512, 1024)  # must include index/dense.py's HNSW_EF_SEARCH (256)
PLOT = REPO_ROOT / "bench" / "scale.png"
RAW = REPO_ROOT / "bench" / "scale.json"  # every figure of the last run, to redraw the plot (--replot)


# ---------------------------------------------------------------- synthetic corpus and proxy vectors

def source_sentences() -> list[str]:
    from index import load_corpus
    from index.passages import document_sentences

    sentences = []
    for doc in load_corpus(REPO_ROOT / "sources").documents:
        sentences += [s.text for s in document_sentences(doc) if len(s.text.split()) >= 6 and not s.text.startswith("#")]
    return list(dict.fromkeys(sentences))


def _sentence(rng: random.Random, pool: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """A pool sentence, or a splice of two; with the (pool index, characters) it is made of."""
    a = rng.randrange(len(pool))
    if rng.random() < 0.5:
        return pool[a], [(a, len(pool[a]))]
    b = rng.randrange(len(pool))
    wa, wb = pool[a].split(), pool[b].split()
    head = " ".join(wa[: rng.randint(max(1, len(wa) // 3), max(1, 2 * len(wa) // 3))])
    tail = " ".join(wb[rng.randint(len(wb) // 3, max(len(wb) // 3, 2 * len(wb) // 3)):]) or wb[-1]
    return f"{head} {tail}", [(a, len(head)), (b, len(tail))]


def make_documents(pool: list[str], count: int, seed: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """`count` documents: (text, [(pool index, characters), ...])."""
    rng = random.Random(seed)
    docs = []
    while len(docs) < count:
        wanted = rng.choices((1, 2, 3), weights=(2, 3, 5))[0]
        text, parts = "", []
        for _ in range(wanted):
            sentence, made_of = _sentence(rng, pool)
            if len(text) + len(sentence) + 1 > MAX_DOC_CHARS:
                break
            text = f"{text} {sentence}" if text else sentence
            parts += made_of
        if text:
            docs.append((text, parts))
    return docs


def write_corpus(docs, directory: Path) -> Path:
    """The documents as a BEIR corpus.jsonl in `directory` (created); returns the directory."""
    directory.mkdir(parents=True)
    with open(directory / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for i, (text, _parts) in enumerate(docs):
            handle.write(json.dumps({"_id": f"d{i}", "title": f"Synthetic article {i}", "text": text}) + "\n")
    return directory


def proxy_vectors(docs, pool_vectors: np.ndarray, seed: int) -> np.ndarray:
    """Length-weighted sum of the parts' real sentence vectors, plus noise of norm ~NOISE, normalised."""
    out = np.zeros((len(docs), pool_vectors.shape[1]), dtype=np.float32)
    for i, (_text, parts) in enumerate(docs):
        for index, chars in parts:
            out[i] += chars * pool_vectors[index]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    noise = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out += noise * (NOISE / np.sqrt(out.shape[1]))
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def random_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class ProxyEmbedder:
    """Looks a passage up among the generated documents and returns its proxy vector.

    A passage the splitter cut differently (a document of more than one passage) gets a
    random vector; how many did is reported.
    """

    dimension = 384

    def __init__(self, docs, pool_vectors: np.ndarray, seed: int):
        from index import MODEL_NAME

        self.name = MODEL_NAME  # so the index says the model the queries are embedded with
        self._rows = {text: i for i, (text, _parts) in enumerate(docs)}
        self._vectors = proxy_vectors(docs, pool_vectors, seed)
        self._rng = np.random.default_rng(seed + 1)
        self.misses = 0

    def embed(self, texts, *, progress=False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            row = self._rows.get(text)
            if row is None:
                self.misses += 1
                out[i] = random_vectors(1, self.dimension, int(self._rng.integers(1 << 31)))[0]
            else:
                out[i] = self._vectors[row]
        return out


# ---------------------------------------------------------------- measurements

def time_search(index, queries: np.ndarray, k: int, repeats: int) -> tuple[float, float]:
    from index import dense

    for q in queries[:10]:
        dense.search(index, q, k)
    samples = []
    for _ in range(repeats):
        for q in queries:
            started = time.perf_counter()
            dense.search(index, q, k)
            samples.append((time.perf_counter() - started) * 1000)
    return p50_p95(samples)


def recall(found: np.ndarray, vectors: np.ndarray, queries: np.ndarray, kth: np.ndarray) -> float:
    """Share of the approximate top k that belong to a true top k, ties counted.

    `found` (queries x k) are the approximate rows, `kth` the exact k-th best score of each
    query. A row counts when its true score reaches that k-th score: with duplicate passages
    (identical vectors) any of the tied rows is a right answer, and plain id overlap would
    count a tie as a miss.

    >>> v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)   # rows 0 and 1 tie
    >>> recall(np.array([[1]]), v, np.array([[1.0, 0.0]]), np.array([1.0]))
    1.0
    """
    k = found.shape[1]
    hits = 0
    for q, rows, floor in zip(queries, found, kth):
        rows = rows[rows >= 0]
        hits += min(k, int(np.sum(vectors[rows] @ q >= floor - 1e-5)))
    return hits / (k * len(queries))


def compare_kinds(vectors: np.ndarray, queries: np.ndarray, repeats: int) -> dict:
    """Flat and HNSW from the same vectors: build seconds, query p50/p95 (k=30) with FAISS's default
    threads and with one, recall@10/@30 of HNSW against flat."""
    import faiss

    from index import dense

    result = {}
    built = {}
    default_threads = faiss.omp_get_max_threads()
    for kind in ("flat", "hnsw"):
        started = time.perf_counter()
        built[kind] = dense.build(vectors, kind=kind)
        result[f"{kind}_build_s"] = time.perf_counter() - started
        result[f"{kind}_p50_ms"], result[f"{kind}_p95_ms"] = time_search(built[kind], queries, 30, repeats)
        faiss.omp_set_num_threads(1)
        try:
            result[f"{kind}_1t_p50_ms"], result[f"{kind}_1t_p95_ms"] = time_search(built[kind], queries, 30, repeats)
        finally:
            faiss.omp_set_num_threads(default_threads)

    result["ef_sweep"] = ef_sweep(built["hnsw"], built["flat"], vectors, queries)
    at_default = next(e for e in result["ef_sweep"] if e["ef"] == HNSW_EF_SEARCH)
    result["recall10"], result["recall30"] = at_default["recall10"], at_default["recall30"]
    return result


def ef_sweep(hnsw, flat, vectors: np.ndarray, queries: np.ndarray) -> list[dict]:
    """Recall@10/@30 (ties counted) and p50 (1 thread, k=30) of HNSW at each efSearch: the query-time knob."""
    import faiss


    rows = []
    default_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        kth = {k: flat.search(queries, k)[0][:, k - 1] for k in (10, 30)}
        for ef in EF_SEARCH_SWEEP:
            hnsw.hnsw.efSearch = ef
            row = {"ef": ef}
            for k in (10, 30):
                row[f"recall{k}"] = recall(hnsw.search(queries, k)[1], vectors, queries, kth[k])
            samples = []
            for q in queries:
                started = time.perf_counter()
                hnsw.search(q.reshape(1, -1), 30)
                samples.append((time.perf_counter() - started) * 1000)
            row["p50_ms"] = p50_p95(samples)[0]
            rows.append(row)
    finally:
        faiss.omp_set_num_threads(default_threads)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    return rows


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ---------------------------------------------------------------- workers (fresh processes)

def worker_build(setup: Path, size: int, vectors: str, out: Path) -> dict:
    from index import IndexSettings, SentenceTransformerEmbedder, build_index, store

    pool = json.loads((setup / "pool.json").read_text())
    pool_vectors = np.load(setup / "pool_vectors.npy")
    queries = np.load(setup / "query_vectors.npy")
    docs = make_documents(pool, size, seed=size)
    corpus = write_corpus(docs, out / "corpus")
    embedder = SentenceTransformerEmbedder() if vectors == "real" else ProxyEmbedder(docs, pool_vectors, seed=size)
    started = time.perf_counter()
    report = build_index(corpus, out / "index", embedder=embedder, settings=IndexSettings(sentence_vectors=False), progress=False)
    seconds = time.perf_counter() - started
    build_dir = store.current_build(out / "index")
    result = {
        "size": size, "vectors": vectors, "passages": report.passages, "kind": report.dense_kind,
        "build_s": seconds, "passages_per_s": report.passages / seconds, "disk_mb": _disk_mb(build_dir),
        "faiss_mb": (build_dir / "dense.faiss").stat().st_size / 2**20,
        "build_peak_mb": _common.memory_mb()["peak"],
        "proxy_misses": getattr(embedder, "misses", 0),
    }
    from index import SearchIndex

    index = SearchIndex.load(out / "index", verify=False)
    result["duplicates"] = len(index.passages) - len({p.text for p in index.passages})
    passage_vectors = index.passage_vectors
    result.update(compare_kinds(passage_vectors, queries, repeats=2))
    if vectors == "real":  # how close the proxy is to what the model says, on the same passages
        by_text = {text: i for i, (text, _p) in enumerate(docs)}
        proxy = proxy_vectors(docs, pool_vectors, seed=size)
        rows = [(r, by_text[p.text]) for r, p in enumerate(index.passages) if p.text in by_text]
        cosines = np.sum(passage_vectors[[r for r, _ in rows]] * proxy[[d for _, d in rows]], axis=1)
        result["proxy_cosine_mean"] = float(cosines.mean())
        result["real_recall_of_proxy_index"] = compare_kinds(proxy, queries, repeats=1)["recall10"]
    return result


def worker_serve(setup: Path, index_dir: Path) -> dict:
    """Load the index as the app does, then time the hybrid retriever on the 228 questions."""
    from index import SearchIndex, lexical
    from qa.retrieve import HybridRetriever

    texts = json.loads((setup / "queries.json").read_text())
    queries = np.load(setup / "query_vectors.npy")
    started = time.perf_counter()
    index = SearchIndex.load(index_dir)
    retriever = HybridRetriever(index)
    load_s = time.perf_counter() - started
    count = len(index.passages)

    def bm25(text):  # baseline: a full sort of every passage's score (what qa/retrieve.py did before top_rows)
        scores = lexical.scores(index.bm25, lexical.tokens(text), count)
        return np.argsort(-scores, kind="stable")[:30]

    def bm25_partition(text):  # what HybridRetriever.search does: lexical.top_rows, a partial sort
        return lexical.top_rows(lexical.scores(index.bm25, lexical.tokens(text), count), 30)

    import faiss

    default_threads = faiss.omp_get_max_threads()

    def hybrid_1t(q, t):
        faiss.omp_set_num_threads(1)
        try:
            return retriever.search(q, t, k=3)
        finally:
            faiss.omp_set_num_threads(default_threads)

    timings = {"hybrid": lambda q, t: retriever.search(q, t, k=3), "hybrid_1t": hybrid_1t, "bm25": lambda q, t: bm25(t),
               "bm25_partition": lambda q, t: bm25_partition(t)}
    samples = {name: [] for name in timings}
    for name, run in timings.items():
        for q, t in zip(queries[:10], texts[:10]):
            run(q, t)
    for q, t in zip(queries, texts):  # interleaved, so load changes hit all three alike
        for name, run in timings.items():
            started = time.perf_counter()
            run(q, t)
            samples[name].append((time.perf_counter() - started) * 1000)
    index_rss = _common.memory_mb()["rss"]
    from index import SentenceTransformerEmbedder

    SentenceTransformerEmbedder().embed(["Will the needles hurt?"])
    return {"load_s": load_s, "hybrid_p50_ms": p50_p95(samples["hybrid"])[0], "hybrid_p95_ms": p50_p95(samples["hybrid"])[1],
            "hybrid_1t_p50_ms": p50_p95(samples["hybrid_1t"])[0],
            "bm25_p50_ms": p50_p95(samples["bm25"])[0], "bm25_partition_p50_ms": p50_p95(samples["bm25_partition"])[0], "serve_index_rss_mb": index_rss, "serve_rss_mb": _common.memory_mb()["rss"]}


def worker_sweep(setup: Path, plan: list[tuple[int, str]]) -> list[dict]:
    """Dense search only, at each (size, "proxy" or "random") of `plan`."""
    pool = json.loads((setup / "pool.json").read_text())
    pool_vectors = np.load(setup / "pool_vectors.npy")
    queries = np.load(setup / "query_vectors.npy")
    rows = []
    for size, vectors in plan:
        if vectors == "proxy":
            data = proxy_vectors(make_documents(pool, size, seed=size), pool_vectors, seed=size)
        else:
            data = random_vectors(size, pool_vectors.shape[1], seed=size)
        rows.append({"size": size, "vectors": vectors, **compare_kinds(data, queries, repeats=2 if vectors == "proxy" else 1)})
    return rows


def _run_worker(*args: str) -> object:
    return _common.run_worker(__file__, *args)


# ---------------------------------------------------------------- the run

def _setup(directory: Path, throughput_sample: int) -> float:
    """Pool sentences and their vectors, question vectors; returns the real embedding rate (passages/s)."""
    from index import SentenceTransformerEmbedder
    from qa.eval.questionset import load_questions

    pool = source_sentences()
    questions = [q.question for path in (QUESTIONS, HOLDOUT) for q in load_questions(path)]
    embedder = SentenceTransformerEmbedder()
    (directory / "pool.json").write_text(json.dumps(pool))
    (directory / "queries.json").write_text(json.dumps(questions))
    np.save(directory / "pool_vectors.npy", embedder.embed(pool), allow_pickle=False)
    np.save(directory / "query_vectors.npy", embedder.embed(questions), allow_pickle=False)
    sample = [text for text, _ in make_documents(pool, throughput_sample, seed=99)]
    embedder.embed(sample[:64])
    started = time.perf_counter()
    embedder.embed(sample)
    return len(sample) / (time.perf_counter() - started)


def _plot(builds: list[dict], sweep: list[dict], rate: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from index.dense import APPROXIMATE_ABOVE

    by = lambda rows, vectors: sorted((r for r in rows if r["vectors"] == vectors), key=lambda r: r["size"])  # noqa: E731
    dense_rows = sorted(by(sweep, "proxy") + by(builds, "proxy"), key=lambda r: r["size"])
    real_rows = by(builds, "real")
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    ax = axes[0][0]
    sizes = [r["size"] for r in dense_rows]
    ax.plot(sizes, [r["flat_p50_ms"] for r in dense_rows], "o-", label="exact (IndexFlatIP), FAISS default threads (2)")
    ax.plot(sizes, [r["flat_1t_p50_ms"] for r in dense_rows], "o--", color="C0", alpha=0.6, label="exact, FAISS 1 thread")
    ax.plot(sizes, [r["hnsw_p50_ms"] for r in dense_rows], "s-", label=f"HNSW (M=32, efSearch={HNSW_EF_SEARCH})")
    ax.plot([r["size"] for r in real_rows], [r["flat_p50_ms"] for r in real_rows], "o", color="C0", mfc="none", ms=9,
            label="exact, real vectors")
    served = sorted((r for r in builds if "hybrid_p50_ms" in r), key=lambda r: r["size"])
    ax.plot([r["size"] for r in served], [r["hybrid_p50_ms"] for r in served], "^--", label="hybrid search as built (FAISS + BM25 + fusion)")
    ax.plot([r["size"] for r in served], [r["bm25_p50_ms"] for r in served], "v:", label="BM25 alone (scores + full sort, as qa/ does)")
    ax.axhline(FLAT_BUDGET_MS, color="grey", lw=0.8, ls="--")
    ax.text(sizes[0], FLAT_BUDGET_MS * 1.08, f"{FLAT_BUDGET_MS:g} ms", color="grey", fontsize=8)
    ax.axvline(APPROXIMATE_ABOVE, color="red", lw=0.8, ls=":")
    ax.text(APPROXIMATE_ABOVE * 1.05, 0.02, "APPROXIMATE_ABOVE", color="red", fontsize=8, rotation=90, va="bottom",
            transform=ax.get_xaxis_transform())
    ax.set(xscale="log", yscale="log", xlabel="passages", ylabel="ms per query (p50)", title="Query time, one query, k=30")
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[0][1]
    for vectors, marker in (("proxy", "o-"), ("real", "s"), ("random", "x--")):  # noqa: B007
        rows = sorted(by(sweep, vectors) + by(builds, vectors), key=lambda r: r["size"])
        if rows:
            ax.plot([r["size"] for r in rows], [r["recall10"] for r in rows], marker, label=f"recall@10, {vectors} vectors")
    proxy_rows = sorted(by(sweep, "proxy") + by(builds, "proxy"), key=lambda r: r["size"])
    for ef, style in ((256, "o:"), (512, "o--")):
        ax.plot([r["size"] for r in proxy_rows], [next(e["recall10"] for e in r["ef_sweep"] if e["ef"] == ef) for r in proxy_rows],
                style, color="C0", alpha=0.6, label=f"recall@10, proxy vectors, efSearch {ef}")
    ax.axhline(TARGET_RECALL, color="grey", lw=0.8, ls="--")
    ax.text(sizes[0], TARGET_RECALL + 0.002, f"target {TARGET_RECALL}", color="grey", fontsize=8)
    off_scale = [r for r in sweep + builds if r["recall10"] < RECALL_AXIS_FROM]
    if off_scale:
        ax.text(0.02, 0.04, "off scale: " + ", ".join(f"{r['vectors']} vectors at {r['size']:,}: {r['recall10']:.2f}" for r in off_scale),
                transform=ax.transAxes, fontsize=8, color="C2")
    ax.set_ylim(RECALL_AXIS_FROM, 1.003)
    ax.set(xscale="log", xlabel="passages", ylabel="recall@10 of HNSW vs exact (ties counted)",
           title=f"HNSW recall against exact search (efSearch {HNSW_EF_SEARCH} unless said)")
    ax.legend(fontsize=8)
    ax = axes[1][0]
    ax.plot(sizes, [r["flat_build_s"] for r in dense_rows], "o-", label="exact index build")
    ax.plot(sizes, [r["hnsw_build_s"] for r in dense_rows], "s-", label="HNSW index build")
    ax.plot(sizes, [r["size"] / rate for r in dense_rows], "k:", label=f"real embedding at {rate:.0f} passages/s (measured)")
    for r in builds:
        ax.plot(r["size"], r["build_s"], "D", color="C3" if r["vectors"] == "real" else "C4", ms=7)
    ax.plot([], [], "D", color="C3", label="whole build_index, real vectors")
    ax.plot([], [], "D", color="C4", label="whole build_index, proxy vectors (no model)")
    ax.set(xscale="log", yscale="log", xlabel="passages", ylabel="seconds", title="Build time")
    ax.legend(fontsize=8)
    ax = axes[1][1]
    rows = sorted(builds, key=lambda r: (r["size"], r["vectors"]))
    ax.plot([r["size"] for r in rows], [r["disk_mb"] for r in rows], "o-", label="index directory on disk")
    for vectors, marker in (("real", "s"), ("proxy", "D")):
        picked = [r for r in rows if r["vectors"] == vectors]
        ax.plot([r["size"] for r in picked], [r["build_peak_mb"] for r in picked], marker, color="C1", ms=8,
                label=f"peak RSS while building, {vectors} vectors" + (" (model loaded)" if vectors == "real" else " (no model)"))
    if served:
        ax.plot([r["size"] for r in served], [r["serve_rss_mb"] for r in served], "^-", color="C2", label="RSS serving (index + model)")
    ax.axhline(1000 / 1.048576, color="grey", lw=0.8, ls="--")
    ax.text(rows[0]["size"], 1000 / 1.048576 * 1.05, "1 GB", color="grey", fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel="passages", ylabel="MiB", title="Disk and memory")
    ax.legend(fontsize=8)
    fig.suptitle("Index cost against size (bench/scale.py)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k real and 10k proxy builds, a short sweep")
    parser.add_argument("--replot", action="store_true", help="redraw bench/scale.png from bench/scale.json, measuring nothing")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replot:
        raw = json.loads(RAW.read_text())
        _plot(raw["builds"], raw["sweep"], raw["rate"])
        print(f"plot: {PLOT.relative_to(REPO_ROOT)}, from {RAW.relative_to(REPO_ROOT)} ({raw['mode']} run of {raw['machine']['date']})")
        return 0
    if args.worker:
        kind, setup, *rest = args.worker
        if kind == "build":
            result = worker_build(Path(setup), int(rest[0]), rest[1], Path(rest[2]))
        elif kind == "serve":
            result = worker_serve(Path(setup), Path(rest[0]))
        else:
            result = worker_sweep(Path(setup), [(int(size), vectors) for size, vectors in (item.split(":") for item in rest)])
        print(json.dumps(result))
        return 0

    print_header("Index scale", "quick" if args.quick else "full")
    builds_plan = [(1_000, "real"), (10_000, "proxy")] if args.quick else [(1_000, "real"), (10_000, "real"), (10_000, "proxy"), (100_000, "proxy")]
    sweep_plan = ([(2_000, "proxy"), (5_000, "proxy"), (5_000, "random")] if args.quick else
                  [(2_000, "proxy"), (5_000, "proxy"), (20_000, "proxy"), (30_000, "proxy"), (40_000, "proxy"), (50_000, "proxy"),
                   (50_000, "random")])
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        rate = _setup(work, 128 if args.quick else 512)
        builds = []
        for size, vectors in builds_plan:
            out = work / f"{size}-{vectors}"
            result = _run_worker("build", str(work), str(size), vectors, str(out))
            result.update(_run_worker("serve", str(work), str(out / "index")))
            builds.append(result)
            print(f"  built {size:,} ({vectors}) in {result['build_s']:.1f} s", flush=True)
            shutil.rmtree(out)
        sweep = _run_worker("sweep", str(work), *(f"{size}:{vectors}" for size, vectors in sweep_plan))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nReal embedding throughput (SentenceTransformerEmbedder as shipped, batches of 64): {rate:.1f} passages/s "
          f"-> 100k passages would take ~{100_000 / rate / 60:.0f} min to embed (x2 with sentence vectors)")
    print("\nBuilds (build_index, sentence_vectors=False; each in a fresh process; 'proxy' = no model, see docstring)")
    print(table(
        ["passages", "vectors", "FAISS kind", "build s", "passages/s", "disk MiB", "peak RSS building MiB",
         "load s", "RSS serving MiB (index only)", "RSS serving MiB (index + model)", "hybrid p50 ms", "hybrid p95 ms", "hybrid p50 ms, FAISS 1 thread",
         "BM25 p50 ms (full sort)", "BM25 p50 ms (argpartition)", "duplicate passages", "proxy misses"],
        [[r["passages"], r["vectors"], r["kind"], round(r["build_s"], 1), round(r["passages_per_s"], 1), round(r["disk_mb"], 1),
          round(r["build_peak_mb"]), round(r["load_s"], 2), round(r["serve_index_rss_mb"]), round(r["serve_rss_mb"]),
          r["hybrid_p50_ms"], r["hybrid_p95_ms"],
          r["hybrid_1t_p50_ms"], r["bm25_p50_ms"], r["bm25_partition_p50_ms"], r["duplicates"], r["proxy_misses"]]
         for r in builds]))
    for r in builds:
        if "proxy_cosine_mean" in r:
            print(f"proxy check at {r['passages']:,} real passages: mean cosine(proxy vector, real vector) = {r['proxy_cosine_mean']:.3f}; "
                  f"recall@10 with proxy vectors {r['real_recall_of_proxy_index']:.4f} vs real vectors {r['recall10']:.4f}")
    rows = sorted(builds + sweep, key=lambda r: (r["size"], r["vectors"]))
    print(f"\nExact (IndexFlatIP) against HNSW (M=32, efConstruction=200, efSearch={HNSW_EF_SEARCH}), same vectors, k=30 per query;"
          " FAISS's default threads (2 here) and 1 thread (faiss.omp_set_num_threads(1))")
    print(table(
        ["passages", "vectors", "exact build s", "exact p50 ms", "exact p95 ms", "exact p50 ms, 1 thread", "exact p95 ms, 1 thread",
         "HNSW build s", "HNSW p50 ms", "HNSW p50 ms, 1 thread", "recall@10", "recall@30"],
        [[r["size"], r["vectors"], round(r["flat_build_s"], 3), r["flat_p50_ms"], r["flat_p95_ms"], r["flat_1t_p50_ms"],
          r["flat_1t_p95_ms"], round(r["hnsw_build_s"], 2), r["hnsw_p50_ms"], r["hnsw_1t_p50_ms"], f"{r['recall10']:.4f}",
          f"{r['recall30']:.4f}"] for r in rows]))
    for column, label in (("flat_p50_ms", "default threads"), ("flat_1t_p50_ms", "1 thread")):
        slow = [r["size"] for r in rows if r["vectors"] != "random" and r[column] > FLAT_BUDGET_MS]
        print(f"exact search ({label}) p50 first above {FLAT_BUDGET_MS:g} ms at: {min(slow):,} passages" if slow
              else f"exact search ({label}) p50 stays under {FLAT_BUDGET_MS:g} ms at every size measured")
    print(f"\nHNSW recall and query time against efSearch (index/dense.py uses {HNSW_EF_SEARCH}), 1 thread, k=30 for the time")
    ef_rows = []
    for r in rows:
        if r["size"] >= 10_000:
            for e in r["ef_sweep"]:
                ef_rows.append([r["size"], r["vectors"], e["ef"], f"{e['recall10']:.4f}", f"{e['recall30']:.4f}", e["p50_ms"],
                                r["flat_1t_p50_ms"]])
    print(table(["passages", "vectors", "efSearch", "recall@10", "recall@30", "HNSW p50 ms", "exact p50 ms, 1 thread"], ef_rows))
    for r in rows:
        if r["vectors"] != "random" and r["size"] >= 10_000:
            enough = [e["ef"] for e in r["ef_sweep"] if e["recall10"] >= TARGET_RECALL and e["recall30"] >= TARGET_RECALL]
            print(f"  {r['size']:,} ({r['vectors']}): smallest efSearch with recall@10 and @30 >= {TARGET_RECALL}: "
                  + (f"{min(enough)}" if enough else f"none up to {EF_SEARCH_SWEEP[-1]}"))
    low = [(r["size"], r["vectors"], r["recall10"]) for r in rows if r["recall10"] < TARGET_RECALL]
    print(f"HNSW recall@10 (efSearch {HNSW_EF_SEARCH}) below target at: " + (", ".join(f"{s:,} ({v}: {x:.3f})" for s, v, x in low) if low else "none"))
    _plot(builds, sweep, rate)
    RAW.write_text(json.dumps({"mode": "quick" if args.quick else "full", "machine": _common.machine(), "rate": rate,
                               "builds": builds, "sweep": sweep}, indent=1) + "\n")
    print(f"\nplot: {PLOT.relative_to(REPO_ROOT)}; figures: {RAW.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
