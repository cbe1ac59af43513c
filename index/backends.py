"""Pick an embedding backend by its name, for the command line: the one module that knows both.

embedder.py (the protocol, the model's files, the sentence-transformers reference) and onnx_embedder.py
(the ONNX Runtime backend, built on embedder.py) each know only what is below them; this module sits above
both, so neither imports the other back.
"""

from __future__ import annotations

import os

from .embedder import Embedder, SentenceTransformerEmbedder
from .onnx_embedder import DEFAULT_CACHE_DIR, OnnxEmbedder, build_threads

BACKENDS = ("onnxruntime", "sentence-transformers")  # make_embedder's choices; onnxruntime is the default


def make_embedder(backend: str = "onnxruntime", *, onnx_cache_dir: str | os.PathLike | None = None) -> Embedder:
    """The packaged model on `backend` (one of BACKENDS), set up for building: every core.

    `onnx_cache_dir`: where the one-time ONNX export is kept (default: onnx_embedder.DEFAULT_CACHE_DIR).
    Nothing is loaded until the embedder first embeds.
    """
    if backend == "onnxruntime":
        return OnnxEmbedder(cache_dir=onnx_cache_dir or DEFAULT_CACHE_DIR, threads=build_threads())
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder()  # torch's default: a thread per core
    raise ValueError(f"Invalid backend: {backend}. Choose from " + ", ".join(f"'{b}'" for b in BACKENDS) + ".")
