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

OTHER_LANGUAGES = ("es", "fr", "de", "pt", "it")
NAMES = {"es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian", "other": "another language"}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=None)
def _words(language: str):
    from spellchecker import SpellChecker

    return SpellChecker(language=language, distance=1).word_frequency


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
