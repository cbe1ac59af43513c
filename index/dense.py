"""The dense (FAISS) index over passage vectors.

Vectors are unit length, so inner product is cosine similarity and scores stay in
[-1, 1], comparable across queries (qa/ thresholds rely on that).

Below `APPROXIMATE_ABOVE` passages the index is exact (`IndexFlatIP`): a brute-force scan
of 50,000 x 384 floats takes about 4 to 6 ms on one FAISS thread here (measured: exact search
crosses 5 ms between ~47k and ~55k passages) and is always right. Above it, HNSW
(`IndexHNSWFlat`) keeps a query under a millisecond; its recall against exact search is
measured in bench/scale.py (see bench/RESULTS.md, "Index scale").
"""

from __future__ import annotations

import faiss
import numpy as np

APPROXIMATE_ABOVE = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 256  # recall@10 0.986 / @30 0.997 at 100k passages, 0.6 ms (bench/RESULTS.md)


def kind_for(count: int, *, approximate_above: int = APPROXIMATE_ABOVE) -> str:
    return "hnsw" if count > approximate_above else "flat"


def kind_of(index: faiss.Index) -> str:
    """"flat" or "hnsw": which of the two kinds `build` made."""
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def build(vectors: np.ndarray, *, kind: str) -> faiss.Index:
    if kind not in ("flat", "hnsw"):
        raise ValueError(f"Invalid dense index kind: {kind}. Choose from 'flat', 'hnsw'.")
    dimension = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def vectors_of(index: faiss.Index) -> np.ndarray:
    """All stored vectors, in insertion order (both index kinds keep them exactly).

    A read-only view of the index's own memory, not a copy (147 MB saved at 100k passages): valid
    while `index` lives and nothing is added to it. SearchIndex keeps the two together.
    """
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(flat, faiss.IndexFlat):
        return index.reconstruct_n(0, index.ntotal)
    view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    view.flags.writeable = False
    return view


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the `k` nearest passages of one query vector; rows of -1 are dropped."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = max(HNSW_EF_SEARCH, k)
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def write(index: faiss.Index, path: str) -> None:
    faiss.write_index(index, path)


def read(path: str) -> faiss.Index:
    return faiss.read_index(path)
