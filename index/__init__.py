"""Search index over the article library: sources -> passages -> FAISS + BM25, saved with a manifest.

Public API:
    load_corpus(sources) -> Corpus                      read sources/ (sources.py)
    build_index(sources, out, embedder=...) -> BuildReport  build or refresh (build.py)
    open_index(sources, out, embedder=...) -> SearchIndex   load, building first if stale
    SearchIndex.load(out, model=...)                    load and verify (search_index.py)
    make_embedder("onnxruntime" | "sentence-transformers")  the packaged all-MiniLM-L6-v2 (backends.py)
    OnnxEmbedder(), SentenceTransformerEmbedder()       the two backends (onnx_embedder.py, embedder.py)
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what editors and type checkers see; at run time, __getattr__ below (the same names)
    from .build import BuildReport, build_index, describe, open_index, stale_reasons
    from .backends import make_embedder
    from .embedder import MODEL_NAME, Embedder, SentenceTransformerEmbedder
    from .errors import (BuildLockedError, IndexCorruptError, IndexMismatchError, IndexMissingError,
                         ModelNotInstalledError, SearchIndexError, SourcesError)
    from .onnx_embedder import OnnxEmbedder
    from .passages import Passage, Sentence, split_sentences
    from .search_index import SearchIndex
    from .settings import IndexSettings
    from .sources import Corpus, Document, load_corpus

# name -> the module that defines it. Loaded on first use (PEP 562), so that importing one light module of
# the package (index.errors, say) does not import FAISS, numpy and BM25 with it.
_EXPORTS = {
    "BuildReport": "build", "build_index": "build", "describe": "build", "open_index": "build", "stale_reasons": "build",
    "MODEL_NAME": "embedder", "Embedder": "embedder", "SentenceTransformerEmbedder": "embedder", "make_embedder": "backends",
    "OnnxEmbedder": "onnx_embedder",
    "BuildLockedError": "errors", "IndexCorruptError": "errors", "IndexMismatchError": "errors",
    "IndexMissingError": "errors", "ModelNotInstalledError": "errors", "SearchIndexError": "errors",
    "SourcesError": "errors",
    "Passage": "passages", "Sentence": "passages", "split_sentences": "passages",
    "SearchIndex": "search_index",
    "IndexSettings": "settings",
    "Corpus": "sources", "Document": "sources", "load_corpus": "sources",
}
_SUBMODULES = {"backends", "dense", "lexical", "store", "onnx_embedder", "build", "embedder", "errors", "passages",
               "search_index", "settings", "sources"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
