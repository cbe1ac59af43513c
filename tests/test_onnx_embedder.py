"""The ONNX Runtime embedder that serves questions: same vectors as sentence-transformers, exported once."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from index import ModelNotInstalledError
from index.onnx_embedder import OnnxEmbedder

pytestmark = pytest.mark.model  # a slow kind (pytest.ini): `-m "not slow"` leaves it out

TEXTS = ["Will the needles hurt?", "I'm on warfarin, is it OK?",
         "Acupuncture is generally considered a safe procedure when performed by a licensed practitioner. " * 8, ""]


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    return OnnxEmbedder(cache_dir=tmp_path_factory.mktemp("onnx"))


def test_same_vectors_as_sentence_transformers(onnx_embedder, real_embedder):
    assert onnx_embedder.name == real_embedder.name and onnx_embedder.dimension == 384
    ours, theirs = onnx_embedder.embed(TEXTS), real_embedder.embed(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float(np.max(1.0 - np.sum(ours * theirs, axis=1))) < 1e-4


def test_the_export_is_cached_and_reused(onnx_embedder):
    stamp = onnx_embedder.path.stat().st_mtime_ns
    again = OnnxEmbedder(cache_dir=onnx_embedder.path.parent)
    assert again.path == onnx_embedder.path and again.path.stat().st_mtime_ns == stamp
    assert again.embed([]).shape == (0, 384)


def test_missing_onnxruntime_says_what_to_install(onnx_embedder, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelNotInstalledError, match="ONNX Runtime is not installed. Run: pip install -r requirements.txt"):
        OnnxEmbedder(cache_dir=onnx_embedder.path.parent)
