"""Is a question written in English? The articles are English only.

Two cheap signals, no model: the share of letters outside the Latin script (Cyrillic, CJK,
Arabic, ...), and, for Latin-script text, how many of its words are known English words
against how many are known in Spanish, French, German, Portuguese or Italian
(pyspellchecker's word lists). Short or mixed text counts as English: a wrong "not
English" note is worse than none.

>>> detect("¿La acupuntura duele mucho?"), detect("Will the needles hurt?"), detect("hi")
('es', 'en', 'en')
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .spelling import english_words

OTHER_LANGUAGES = ("es", "fr", "de", "pt", "it")
NAMES = {"es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian", "other": "another language"}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


# Per other language, its 60,000 most frequent words are enough to tell it from English (the same verdicts as the
# full lists on both question sets and on questions in each language); the full lists (86k to 417k
# words each, ~150 MB together) cost memory for words a question would hardly ever use.
OTHER_LANGUAGE_WORDS = 60_000


@lru_cache(maxsize=None)
def _words(language: str):
    if language == "en":
        return english_words()  # the list spelling correction uses: loaded once for both
    from spellchecker import SpellChecker

    frequency = SpellChecker(language=language, distance=1).word_frequency.dictionary
    return frozenset(word for word, _count in frequency.most_common(OTHER_LANGUAGE_WORDS))


def preload() -> None:
    """Load every word list now (about a second), so that no visitor's question waits for it."""
    for language in ("en", *OTHER_LANGUAGES):
        _words(language)


def _non_latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    foreign = sum(1 for c in letters if not unicodedata.name(c, "").startswith("LATIN"))
    return foreign / len(letters)


def detect(text: str) -> str:
    """'en', a code from OTHER_LANGUAGES, or 'other' (non-Latin script)."""
    if _non_latin_share(text) > 0.5:
        return "other"
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 3:
        return "en"
    english = sum(1 for w in words if w in _words("en")) / len(words)
    if english >= 0.75:
        return "en"
    best, share = max(((lang, sum(1 for w in words if w in _words(lang)) / len(words)) for lang in OTHER_LANGUAGES), key=lambda x: x[1])
    return best if share >= 0.6 and share > english + 0.25 else "en"
