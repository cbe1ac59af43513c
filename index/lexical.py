"""The lexical (BM25) index over passage texts, with bm25s.

`tokenize` is the one tokeniser for both sides: passages at build time and questions at
query time (lower-case, English stop words out, Snowball stems), so a term matches
whatever its inflection ("sessions" ~ "session").
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

LANGUAGE = "english"
STOPWORDS = "en_plus"  # NLTK's 179 English stop words; bm25s's "en" is Lucene's 33, too few for chat questions
CONFIG = {"library": "bm25s", "stemmer": LANGUAGE, "stopwords": STOPWORDS}
# What bm25s.tokenize does with these settings (scikit-learn's token pattern on lower-cased text, stop words
# dropped before stemming), re-done here with a per-word stem cache: ~10x faster on a question, same tokens
# (tests/test_lexical.py checks both agree).
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORD_SET = frozenset(STOPWORDS_EN_PLUS)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer(LANGUAGE)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Stemmed, stop-word-free tokens of each text.

    >>> tokenize(["Will the needles hurt during sessions?"])
    [['needl', 'hurt', 'session']]
    """
    return [tokens(text) for text in texts]


def tokens(text: str) -> list[str]:
    """Stemmed, stop-word-free tokens of one text (what `tokenize` gives for it)."""
    return [_stem_token(t) for t in _TOKEN.findall(text.lower()) if t not in _STOPWORD_SET]


def bm25s_tokenize(texts: list[str]) -> list[list[str]]:
    """The reference: bm25s's own tokeniser with the same settings, slower; `tokenize` must agree with it."""
    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False)


@lru_cache(maxsize=65536)
def _stem_token(token: str) -> str:
    return _stemmer().stemWord(token)


@lru_cache(maxsize=65536)
def stem(word: str) -> str | None:
    """The index term for one word, or None for a stop word; cached, for per-word checks at query time.

    >>> stem("Sessions"), stem("the")
    ('session', None)
    """
    found = tokens(word)
    return found[0] if found else None


def build(texts: list[str]) -> bm25s.BM25:
    retriever = bm25s.BM25()
    retriever.index(tokenize(texts), show_progress=False)
    return retriever


def scores(retriever: bm25s.BM25, query_tokens: list[str], count: int) -> np.ndarray:
    """BM25 score of every passage for one tokenised query (zeros when no token is known)."""
    known = [t for t in query_tokens if t in retriever.vocab_dict]
    if not known:
        return np.zeros(count, dtype=np.float32)
    return np.asarray(retriever.get_scores(known), dtype=np.float32)


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the `k` best positive scores, best first (ties: lower row first), by partial sort.

    >>> top_rows(np.array([0.0, 2.0, 5.0, 2.0, 1.0]), 3).tolist()
    [2, 1, 3]
    >>> top_rows(np.array([0.0, 0.0]), 5).tolist()
    []
    """
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.lexsort((part, -scores[part]))]
    return order[scores[order] > 0]


def vocabulary(retriever: bm25s.BM25) -> set[str]:
    return {t for t in retriever.vocab_dict if t}


def write(retriever: bm25s.BM25, directory: Path) -> None:
    retriever.save(str(directory), show_progress=False)


def read(directory: Path) -> bm25s.BM25:
    return bm25s.BM25.load(str(directory), mmap=False, show_progress=False, verbosity=0)
