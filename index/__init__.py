"""Search index over the article library: sources -> passages -> FAISS + BM25, saved with a manifest.

Public API:
    load_corpus(sources) -> Corpus                      read sources/ (sources.py)
    build_index(sources, out, embedder=...) -> BuildReport  build or refresh (build.py)
    open_index(sources, out, embedder=...) -> SearchIndex   load, building first if stale
    SearchIndex.load(out, model=...)                    load and verify (search_index.py)
    SentenceTransformerEmbedder()                       the packaged all-MiniLM-L6-v2 (embedder.py)
"""

from .build import BuildReport, build_index, describe, open_index, stale_reasons
from .embedder import MODEL_NAME, Embedder, SentenceTransformerEmbedder
from .errors import (
    BuildLockedError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    ModelNotInstalledError,
    SearchIndexError,
    SourcesError,
)
from .passages import Passage, Sentence, split_sentences
from .search_index import SearchIndex
from .settings import IndexSettings
from .sources import Corpus, Document, load_corpus

__all__ = [
    "BuildLockedError", "BuildReport", "Corpus", "Document", "Embedder", "IndexCorruptError", "IndexMismatchError",
    "IndexMissingError", "IndexSettings", "MODEL_NAME", "ModelNotInstalledError", "Passage", "SearchIndex",
    "SearchIndexError", "Sentence", "SentenceTransformerEmbedder", "SourcesError", "build_index", "describe",
    "load_corpus", "open_index", "split_sentences", "stale_reasons",
]
