"""Bench-only: the int8-quantised variant of index/onnx_embedder.py, measured and rejected.

`OnnxEmbedder(quantized=True)` runs a dynamically int8-quantised copy (onnxruntime.quantization).
It is ~3.5x faster, but its vectors are off by about 4e-2 cosine distance (7e-2 at worst), far
beyond the 1e-4 allowed, so it is here to be measured, not used. Everything else is the
library's embedder (index/onnx_embedder.py).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(REPO_ROOT))

from index import onnx_embedder as _library  # noqa: E402
from index.onnx_embedder import DEFAULT_CACHE_DIR  # noqa: E402


def quantize(source: Path, target: Path) -> Path:
    """A dynamically int8-quantised copy of `source` (weights int8, activations quantised per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs "consider pre-processing" advice on every call
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    os.replace(tmp, target)
    return target


class OnnxEmbedder(_library.OnnxEmbedder):
    def __init__(self, *, cache_dir=DEFAULT_CACHE_DIR, threads: int = 1, batch_size: int = 16, quantized: bool = False):
        super().__init__(cache_dir=cache_dir, threads=threads, batch_size=batch_size)
        if quantized:
            path = self.path.with_name(self.path.stem + "-int8.onnx")
            if not path.exists():
                quantize(self.path, path)
            self.path = path
            self._session = _library._session(path, threads=threads)
