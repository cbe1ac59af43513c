"""How fast is a whole index build on ONNX Runtime against sentence-transformers, and is it the same index?

    python bench/build_speed.py [--docs N] [--rounds R] [--settings default|beir] [--quick]

The corpus is synthetic, shaped like the issue's BEIR SciFact corpus (5,183 abstracts, 33,565
passages), which is not on this machine (no network): a BEIR corpus.jsonl of `--docs` documents
(default 1,000; `--docs 5183` for the issue's size), each a title and 4 to 13 sentences (one
section), every sentence a sentence of sources/*.md or a splice of the first part of one and the
last part of another, as bench/scale.py makes them. That gives ~6.6 passages and ~8.6 sentences a
document, SciFact's ~6.5 passages.

Each build is `index.build_index` in a fresh process, timed from the call to its return: reading the
corpus, cutting sentences and passages (pysbd), embedding every passage and sentence, FAISS, BM25,
writing and publishing (`--settings default`, what `python -m index build` does; `beir`: BEIR mode's
settings, title + text and no sentence vectors). Loading the model is not timed (the same few seconds
for any corpus); the ONNX export is made once, before. Backends, as `python -m index build --embedder`
makes them (index/embedder.py `make_embedder`): "sentence-transformers" (torch on its default thread
count, one per core; batches of 64, sorted by length) and "onnxruntime" (one intra-op thread per core,
no spinning; batches of 16, sorted by token count). Builds alternate (st, onnx, then onnx, st, ...) so
that drift in the machine's load hits both alike; every row says the load average, and the CPU time
of the build (all threads), which contention changes far less than wall time.

Reported: passages/s of the whole build (index passages / build seconds) per backend and round, texts/s
of the embedding step alone, the speed-up (median against median), and whether the two indexes are the
same: passage ids and texts, sentences, source hashes, and the largest difference of a vector element
and of cosine distance. Raw figures go to bench/build_speed.json.

--quick: 150 documents, one round each. Not here: one question's embedding (bench/embed_speed.py),
index size and query time (bench/scale.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import REPO_ROOT, print_header, table

import numpy as np  # noqa: E402

BACKENDS = ("sentence-transformers", "onnxruntime")
SENTENCES_PER_DOC = (4, 13)  # uniform: ~6.6 passages a document, like SciFact's 33,565 / 5,183
ONNX_CACHE = REPO_ROOT / "var" / "onnx"
RAW = REPO_ROOT / "bench" / "build_speed.json"


def make_corpus(count: int, directory: Path, seed: int = 5183) -> Path:
    """`count` SciFact-shaped documents as a BEIR corpus.jsonl in `directory`; returns the file."""
    import scale

    pool = scale.source_sentences()
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            text = " ".join(scale._sentence(rng, pool)[0] for _ in range(rng.randint(*SENTENCES_PER_DOC)))
            handle.write(json.dumps({"_id": f"d{i}", "title": f"Synthetic abstract {i}", "text": text}) + "\n")
    return path


def _settings(name: str):
    from index import IndexSettings

    # BEIR mode's settings (qa/eval/beir.py BEIR_SETTINGS), spelled out so this script does not import qa/.
    return IndexSettings() if name == "default" else IndexSettings(title_prefix=True, sentence_vectors=False)


def worker_build(backend: str, corpus: Path, out: Path, settings_name: str) -> dict:
    """One timed build in this (fresh) process."""
    from index import SearchIndex, build_index
    from index.backends import make_embedder

    embedder = make_embedder(backend, onnx_cache_dir=ONNX_CACHE)
    embedder.embed(["warm up: first-call set-up is not the build's"])
    load_before = _common.load_average()
    cpu = time.process_time()
    started = time.perf_counter()
    report = build_index(corpus, out, embedder=embedder, settings=_settings(settings_name), progress=False)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    index = SearchIndex.load(out, verify=False)
    return {
        "backend": backend, "threads": getattr(embedder, "threads", None) or _torch_threads(), "batch_size": embedder.batch_size,
        "passages": report.passages, "sentences": len(index.sentences), "embedded_texts": report.embedded_texts,
        "build_s": seconds, "embed_s": report.embed_seconds, "cpu_s": cpu, "peak_mb": _common.memory_mb()["peak"],
        "load_before": load_before, "load_after": _common.load_average(),
    }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _run_worker(*args: str) -> object:
    return _common.run_worker(__file__, *args)


def compare(st_dir: Path, onnx_dir: Path) -> dict:
    """Are the two indexes the same? Texts exactly, vectors within float rounding."""
    from index import SearchIndex

    a, b = SearchIndex.load(st_dir), SearchIndex.load(onnx_dir)

    def cosine_distance(x, y):
        return float(np.max(1.0 - np.sum(x * y, axis=1))) if len(x) else 0.0

    same_sentences = [(s.source_id, s.start, s.end, s.text) for s in a.sentences] == [(s.source_id, s.start, s.end, s.text) for s in b.sentences]
    return {
        "same_passages": [(p.passage_id, p.text) for p in a.passages] == [(p.passage_id, p.text) for p in b.passages],
        "same_sentences": same_sentences,
        "same_source_hashes": {k: v["sha256"] for k, v in a.manifest["sources"].items()} == {k: v["sha256"] for k, v in b.manifest["sources"].items()},
        "passage_max_abs": float(np.max(np.abs(a.passage_vectors - b.passage_vectors))),
        "passage_max_cos": cosine_distance(a.passage_vectors, b.passage_vectors),
        "sentence_max_abs": float(np.max(np.abs(a.sentence_vectors - b.sentence_vectors))) if len(a.sentence_vectors) else 0.0,
        "sentence_max_cos": cosine_distance(a.sentence_vectors, b.sentence_vectors),
        "embedded_with": [a.manifest["embedded_with"], b.manifest["embedded_with"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="documents in the synthetic corpus (5183: the issue's SciFact size)")
    parser.add_argument("--rounds", type=int, default=2, help="builds per backend, alternating which goes first")
    parser.add_argument("--settings", choices=("default", "beir"), default="default",
                        help="default: python -m index build's (sentence vectors too); beir: title + text, no sentence vectors")
    parser.add_argument("--quick", action="store_true", help="150 documents, one round")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        backend, corpus, out, settings_name = args.worker
        print(json.dumps(worker_build(backend, Path(corpus), Path(out), settings_name)))
        return 0
    docs, rounds = (150, 1) if args.quick else (args.docs, args.rounds)
    print_header("Index builds: ONNX Runtime against sentence-transformers", "quick" if args.quick else f"{docs} documents")

    from index.onnx_embedder import OnnxEmbedder

    OnnxEmbedder(cache_dir=ONNX_CACHE)  # the one-time export (~10 s), before anything is timed
    work = Path(tempfile.mkdtemp(prefix="bench-build-speed-"))
    rows, kept = [], {}
    try:
        corpus = make_corpus(docs, work / "corpus")
        for r in range(rounds):
            for backend in (BACKENDS if r % 2 == 0 else BACKENDS[::-1]):
                out = work / f"{backend}-{r}"
                row = {"round": r + 1, **_run_worker(backend, str(corpus), str(out), args.settings)}
                rows.append(row)
                print(f"  round {r + 1}, {backend}: {row['passages']:,} passages in {row['build_s']:.1f} s "
                      f"({row['passages'] / row['build_s']:.1f} passages/s; load {row['load_before']})", flush=True)
                if backend in kept:
                    shutil.rmtree(kept[backend])
                kept[backend] = out
        same = compare(kept["sentence-transformers"], kept["onnxruntime"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first = rows[0]
    print(f"\nCorpus: synthetic SciFact-shaped BEIR corpus.jsonl, {docs:,} documents -> {first['passages']:,} passages and "
          f"{first['sentences']:,} sentences; settings: {args.settings} "
          f"({'passages and sentences embedded' if args.settings == 'default' else 'title + text, passages only'})")
    print("\nWhole builds (build_index in a fresh process: cut + embed + FAISS + BM25 + write; model load not timed)")
    print(table(
        ["round", "backend", "threads", "batch", "passages", "texts embedded", "build s", "passages/s", "embed s", "texts/s (embedding)",
         "CPU s", "CPU ms/passage", "peak RSS MiB", "load avg before", "load avg after"],
        [[r["round"], r["backend"], r["threads"], r["batch_size"], r["passages"], r["embedded_texts"], round(r["build_s"], 1),
          round(r["passages"] / r["build_s"], 1), round(r["embed_s"], 1), round(r["embedded_texts"] / r["embed_s"], 1),
          round(r["cpu_s"], 1), round(r["cpu_s"] / r["passages"] * 1000, 1), round(r["peak_mb"]), r["load_before"], r["load_after"]]
         for r in rows]))
    rate = {b: statistics.median(r["passages"] / r["build_s"] for r in rows if r["backend"] == b) for b in BACKENDS}
    embed_rate = {b: statistics.median(r["embedded_texts"] / r["embed_s"] for r in rows if r["backend"] == b) for b in BACKENDS}
    cpu = {b: statistics.median(r["cpu_s"] / r["passages"] for r in rows if r["backend"] == b) for b in BACKENDS}
    print(f"\nMedian passages/s, whole build: sentence-transformers {rate['sentence-transformers']:.1f}, "
          f"onnxruntime {rate['onnxruntime']:.1f} -> speed-up {rate['onnxruntime'] / rate['sentence-transformers']:.2f}x")
    print(f"Median texts/s, embedding step: sentence-transformers {embed_rate['sentence-transformers']:.1f}, "
          f"onnxruntime {embed_rate['onnxruntime']:.1f} -> {embed_rate['onnxruntime'] / embed_rate['sentence-transformers']:.2f}x")
    print(f"CPU time per passage: sentence-transformers / onnxruntime = {cpu['sentence-transformers'] / cpu['onnxruntime']:.2f}x")
    print(f"\nSame index: passages {same['same_passages']}, sentences {same['same_sentences']}, source hashes "
          f"{same['same_source_hashes']}; largest vector element difference: passages {same['passage_max_abs']:.1e}, "
          f"sentences {same['sentence_max_abs']:.1e}; largest cosine distance: passages {same['passage_max_cos']:.1e}, "
          f"sentences {same['sentence_max_cos']:.1e}; manifests' embedded_with {same['embedded_with']}")
    RAW.write_text(json.dumps({"mode": "quick" if args.quick else "full", "machine": _common.machine(), "docs": docs,
                               "settings": args.settings, "rows": rows, "same": same, "cpus": os.cpu_count()}, indent=1) + "\n")
    print(f"\nfigures: {RAW.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
