"""Memory while serving, the way app.py serves, from the real corpus up to a 100k-passage index.

    python bench/serving_memory.py                  # the real index, then 100,000 passages (~5 min)
    python bench/serving_memory.py --sizes 10000    # other generated sizes

Each index is served in a fresh process, step by step as `Answerer.load` does it: the ONNX
embedder, the index, the answerer (query builder, retriever), the warm-up (word lists, glossary
vectors, a first answer), then the 228 questions of eval/ answered. The resident set (RSS) is
printed after each step. Baseline, in the same process: the extra copy of every passage vector
that `SearchIndex.passage_vectors` made until it became a view of FAISS's own memory (commit
"Copy-free passage vectors"). Target: serving RSS <= 1 GB.

Generated sizes are built as in bench/scale.py: documents spliced from the articles' sentences,
with proxy vectors (a length-weighted mix of the real sentence vectors plus noise) instead of 13 to
46 minutes of real embedding; above 50k passages the dense index is HNSW, as in production.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import HOLDOUT, QUESTIONS, print_header, table

import numpy as np  # noqa: E402
import scale  # noqa: E402  (same folder: the generated corpus and the worker launcher)


def _run_worker(*args: str) -> dict:
    return _common.run_worker(__file__, *args)


def worker_build(size: int, out: Path) -> dict:
    """A generated corpus of `size` one-passage documents, indexed with proxy vectors."""
    from index import IndexSettings, SentenceTransformerEmbedder, build_index

    pool = scale.source_sentences()
    pool_vectors = SentenceTransformerEmbedder().embed(pool)
    docs = scale.make_documents(pool, size, seed=size)
    corpus = scale.write_corpus(docs, out / "corpus")
    started = time.perf_counter()
    # Sentence vectors as in production (IndexSettings' default), each a proxy of its own.
    report = build_index(corpus, out / "index", embedder=scale.ProxyEmbedder(docs, pool_vectors, seed=size),
                         settings=IndexSettings(), progress=False)
    return {"passages": report.passages, "kind": report.dense_kind, "build_s": time.perf_counter() - started}


def worker_serve(index_dir: Path) -> dict:
    """Serve as app.py does (ONNX embedder, one thread), recording RSS after each step."""
    steps = [("imports", _common.memory_mb()["rss"])]
    import faiss

    from index import SearchIndex
    from qa.answerer import SERVING_THREADS, Answerer, packaged_collaborators, serving_embedder
    from qa.config import load_settings
    from qa.eval.questionset import load_questions

    steps.append(("+ our modules", _common.memory_mb()["rss"]))
    settings = load_settings()
    faiss.omp_set_num_threads(SERVING_THREADS)
    embedder = serving_embedder(settings)
    embedder.embed(["Will the needles hurt?"])
    steps.append(("+ ONNX embedder", _common.memory_mb()["rss"]))
    index = SearchIndex.load(index_dir, model=embedder.name)
    steps.append((f"+ index ({len(index.passages):,} passages, {type(index.dense).__name__})", _common.memory_mb()["rss"]))
    answerer = Answerer(index, embedder, settings, **packaged_collaborators())
    steps.append(("+ answerer (query builder, retriever)", _common.memory_mb()["rss"]))
    answerer.warm_up()
    steps.append(("+ warm-up (word lists, glossary vectors)", _common.memory_mb()["rss"]))
    questions = [q for path in (QUESTIONS, HOLDOUT) for q in load_questions(path)]
    for q in questions:
        answerer.answer(q.question, list(q.history))
    serving = _common.memory_mb()["rss"]
    steps.append((f"+ {len(questions)} answers: serving", serving))
    copy = np.array(index.dense.reconstruct_n(0, index.dense.ntotal))  # what passage_vectors cost before
    copy.sum()  # touch every page
    steps.append(("baseline: + the old copy of the passage vectors", _common.memory_mb()["rss"]))
    return {"passages": len(index.passages), "steps": steps, "serving_rss": serving, "peak": _common.memory_mb()["peak"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000], help="generated index sizes (default: 100000)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        result = worker_build(int(rest[0]), Path(rest[1])) if kind == "build" else worker_serve(Path(rest[0]))
        print(json.dumps(result))
        return 0

    print_header("Memory while serving", f"real index + {', '.join(f'{s:,}' for s in args.sizes)} generated")
    from qa.config import load_settings

    settings = load_settings()
    runs = [("real corpus", _run_worker("serve", str(settings.index_dir)))]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as work:
        for size in args.sizes:
            out = Path(work) / str(size)
            built = _run_worker("build", str(size), str(out))
            print(f"  built {built['passages']:,} passages ({built['kind']}) in {built['build_s']:.0f} s", flush=True)
            runs.append((f"{size:,} generated", _run_worker("serve", str(out / "index"))))
    for label, run in runs:
        print(f"\n{label}: RSS after each step (MiB)")
        print(table(["step", "RSS MiB"], [[name, round(rss)] for name, rss in run["steps"]]))
        saved = run["steps"][-1][1] - run["serving_rss"]
        print(f"serving RSS {run['serving_rss']:.0f} MiB (target <= 1000 MB: {'met' if run['serving_rss'] * 2**20 <= 1e9 else 'NOT met'}); "
              f"the old copy of the vectors would add {saved:.0f} MiB; peak {run['peak']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
