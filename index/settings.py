"""Build settings of an index. They are written to the manifest, and a change rebuilds it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .dense import APPROXIMATE_ABOVE
from plumbing.environment import DEFAULT_INDEX_DIR, DEFAULT_SOURCES, REPO_ROOT


@dataclass(frozen=True)
class IndexSettings:
    """How passages are cut and what is embedded.

    max_sentences, max_chars, stride: passage windows (see passages.py).
    within_paragraph: windows never cross a blank line (a paragraph is one topic), only a section.
    embed_context: what is embedded with a passage: "none" (its text), "section" (its section
      heading, then its text: headings name the topic) or "title_section".
    title_prefix: index "title + ' ' + text" for BM25 and embedding (BEIR-style corpora).
    sentence_vectors: also embed every sentence, for sentence-level re-scoring in qa/.
    approximate_above: passage count above which FAISS uses HNSW instead of exact search.
    """

    max_sentences: int = 3
    max_chars: int = 600
    stride: int = 1
    within_paragraph: bool = False
    embed_context: str = "none"
    title_prefix: bool = False
    sentence_vectors: bool = True
    approximate_above: int = APPROXIMATE_ABOVE

    def __post_init__(self):
        if not 1 <= self.max_sentences <= 10:
            raise ValueError(f"max_sentences must be between 1 and 10, got {self.max_sentences}")
        if self.max_chars < 80:
            raise ValueError(f"max_chars must be at least 80, got {self.max_chars}")
        if not 1 <= self.stride <= self.max_sentences:
            raise ValueError(f"stride must be between 1 and max_sentences ({self.max_sentences}), got {self.stride}")
        if self.embed_context not in ("none", "section", "title_section"):
            raise ValueError(f"Invalid embed_context: {self.embed_context}. Choose from 'none', 'section', 'title_section'.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IndexSettings":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


__all__ = ["DEFAULT_INDEX_DIR", "DEFAULT_SOURCES", "REPO_ROOT", "IndexSettings"]
